// The app-portal-access URL carries its token in the fragment (/portal#key=…), which
// the browser never sends to a server. Move it into the sign-in form, drop it from the
// address bar and history, and submit: the server answers with a session cookie.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("portal-login");
  if (!form) { return; }
  var m = /(?:^#|&)key=([^&]+)/.exec(location.hash);
  if (!m) { return; }
  history.replaceState(null, "", location.pathname);
  form.elements.token.value = decodeURIComponent(m[1]);
  form.submit();
});
