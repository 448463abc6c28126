// Cove's GraphiQL page. A file of its own, not an inline script, so the page's
// Content-Security-Policy can allow scripts from 'self' only.
(function () {
  "use strict";

  var endpoint = new URL(document.body.dataset.endpoint, window.location.href);
  var socket = new URL(endpoint.href);
  socket.protocol = endpoint.protocol === "https:" ? "wss:" : "ws:";

  var base = GraphiQL.createFetcher({ url: endpoint.href, subscriptionUrl: socket.href });

  // GraphiQL sends the headers editor's JSON as HTTP headers, and as the connection_init
  // payload of a subscription's socket; Cove reads "authorization" there, in lower case.
  function fetcher(params, options) {
    var headers = {};
    var given = (options && options.headers) || {};
    Object.keys(given).forEach(function (name) {
      headers[name.toLowerCase()] = given[name];
    });
    return base(params, Object.assign({}, options, { headers: headers }));
  }

  var initialQuery =
    "# Cove's GraphQL API. Sign in with the logIn mutation, then put the token in the\n" +
    '# Headers tab below: {"Authorization": "Bearer cove_..."}\n' +
    "# Run with Ctrl-Enter; Ctrl-Space completes (when introspection is allowed).\n" +
    "{\n  viewer {\n    id\n    email\n  }\n}\n";

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: initialQuery,
      defaultHeaders: '{"Authorization": "Bearer "}',
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: "headers",
      // A bearer token stays in this tab's memory, never in the browser's storage.
      shouldPersistHeaders: false,
      inputValueDeprecation: true,
    })
  );
})();
