// Tokens a script fetches itself, from the lab's OAuth 2.0 issuer (the
// client-credentials provider gives TOKEN_URL, CLIENT_ID and CLIENT_SECRET).
import http from 'k6/http';
import { check } from 'k6';
import encoding from 'k6/encoding';

// fetchToken gets a token with the client-credentials grant: the token, or
// '' when the issuer refused or did not answer.
export function fetchToken(cfg) {
  const basic = `Basic ${encoding.b64encode(`${encodeURIComponent(cfg.clientID)}:${encodeURIComponent(cfg.clientSecret)}`)}`;
  const res = http.post(cfg.tokenURL, { grant_type: 'client_credentials' }, {
    headers: { Authorization: basic },
    tags: { name: 'POST /oauth2/token' },
    timeout: `${cfg.requestTimeoutMs}ms`,
  });
  const ok = check(res, { 'token granted (200)': (r) => r.status === 200 });
  return ok ? res.json('access_token') : '';
}

// freshToken returns a function that gives this VU's current token: one
// fetched with the client-credentials grant, fetched again once it is
// older than refreshMs, so that a key rotation reaches the requests within
// about refreshMs. It returns '' when the fetch failed (the request then
// goes without a token and is refused 401: a failure the checks count).
export function freshToken(cfg, refreshMs) {
  if (!cfg.tokenURL || !cfg.clientID) {
    throw new Error('this script fetches its own tokens: it needs TOKEN_URL, CLIENT_ID and CLIENT_SECRET (the lab\'s load.auth provider client-credentials)');
  }
  let token = '';
  let fetchedAt = 0;
  return function () {
    const now = Date.now();
    if (token !== '' && now - fetchedAt < refreshMs) {
      return token;
    }
    token = fetchToken(cfg);
    fetchedAt = now;
    return token;
  };
}
