"""Outbound mail transports: SMTP (aiosmtplib) and, in development only, the log."""

from integrations.mail.base import MailDeliveryError, MailTransport
from integrations.mail.log import LogTransport
from integrations.mail.smtp import SmtpSecurity, SmtpTransport, is_loopback_host

__all__ = [
    "LogTransport",
    "MailDeliveryError",
    "MailTransport",
    "SmtpSecurity",
    "SmtpTransport",
    "is_loopback_host",
]
