// Roundtable's GraphiQL: every asset is served by Roundtable itself (no CDN), so the page
// works on a closed network and under a Content-Security-Policy of 'self'.
(function () {
  "use strict";
  var url = window.location.pathname;
  var fetcher = GraphiQL.createFetcher({ url: url });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      // Tokens go in the headers pane: { "Authorization": "Bearer <token>" }.
      isHeadersEditorEnabled: true,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: true,
      defaultHeaders: '{\n  "Authorization": "Bearer "\n}',
      defaultQuery: "{\n  me {\n    id\n    name\n    role\n  }\n}\n",
    })
  );
})();
