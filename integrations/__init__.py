"""The outside world behind protocols: blob stores, search engines, brokers, Jitsi, ONLYOFFICE."""
