#!/usr/bin/env bash
# The walkthrough of docs/api.md, executable: every step's status must be what the docs say.
#   docs/api-walkthrough.sh [BASE_URL]        (default http://127.0.0.1:8080; needs curl and jq)
# Exits non-zero at the first step whose status differs. Run against a fresh server: it signs up
# `alice` and `bob`.
set -euo pipefail

BASE=${1:-http://127.0.0.1:8080}
API=$BASE/api/v1
OUT=$(mktemp)
HEADERS=$(mktemp)
trap 'rm -f "$OUT" "$HEADERS"' EXIT
PASSWORD='correct horse battery staple'

# call EXPECTED_STATUS METHOD URL [curl args...]: runs the request, checks the status, leaves the
# body in $OUT.
call() {
  local expected=$1 method=$2 url=$3
  shift 3
  local status attempt
  for attempt in 1 2 3 4 5; do
    status=$(curl -s -o "$OUT" -D "$HEADERS" -w '%{http_code}' -X "$method" "$url" "$@")
    # The /auth rate limit (10 at once, then 30 a minute) is part of the API: a well-behaved
    # client waits as Retry-After says and tries again, and so does this script.
    [ "$status" = 429 ] && [ "$expected" != 429 ] || break
    sleep "$(awk 'tolower($1) == "retry-after:" { print $2 + 0 }' "$HEADERS")"
  done
  if [ "$status" != "$expected" ]; then
    echo "FAIL  $method ${url#"$BASE"} answered $status; docs/api.md says $expected" >&2
    cat "$OUT" >&2
    echo >&2
    exit 1
  fi
  printf 'ok    %s %-6s %s\n' "$status" "$method" "${url#"$BASE"}"
}
json() { jq -r "$1" "$OUT"; }
JSON=(-H 'content-type: application/json')

echo "== service"
call 200 GET "$BASE/"
call 200 GET "$BASE/health"
call 200 GET "$API/openapi.json"
call 200 GET "$BASE/.well-known/jwks.json"
call 308 GET "$BASE/docs"

echo "== accounts"
call 201 POST "$API/auth/signup" "${JSON[@]}" \
  -d "{\"username\":\"alice\",\"email\":\"alice@example.com\",\"password\":\"$PASSWORD\",\"name\":\"Alice\"}"
ALICE_ID=$(json .user.id)
call 409 POST "$API/auth/signup" "${JSON[@]}" \
  -d "{\"username\":\"alice2\",\"email\":\"ALICE@example.com\",\"password\":\"$PASSWORD\"}"
call 422 POST "$API/auth/signup" "${JSON[@]}" \
  -d '{"username":"bo","email":"not-an-email","password":"password"}'
call 201 POST "$API/auth/signup" "${JSON[@]}" \
  -d "{\"username\":\"bob\",\"email\":\"bob@example.com\",\"password\":\"$PASSWORD\"}"
BOB=$(json .access_token)
BOB_ID=$(json .user.id)

call 200 POST "$API/auth/login" "${JSON[@]}" -d "{\"email\":\"alice@example.com\",\"password\":\"$PASSWORD\"}"
TOKEN=$(json .access_token)
call 200 POST "$API/auth/login" --data-urlencode grant_type=password --data-urlencode username=alice \
  --data-urlencode "password=$PASSWORD"
call 401 POST "$API/auth/login" "${JSON[@]}" -d '{"email":"alice@example.com","password":"wrong password"}'

AUTH=(-H "authorization: Bearer $TOKEN")
call 200 GET "$API/users/me" "${AUTH[@]}"
call 200 PATCH "$API/users/me" "${AUTH[@]}" "${JSON[@]}" -d '{"name":"Alice Liddell"}'
call 200 GET "$API/users/$ALICE_ID"
call 401 GET "$API/users/me"

echo "== posts"
call 201 POST "$API/posts" "${AUTH[@]}" "${JSON[@]}" \
  -d '{"title":"Hello, world","content":"My first post.","description":"Hi","tags":["intro","Rust"]}'
POST_ID=$(json .id)
call 200 GET "$API/posts/hello-world"
call 200 GET "$API/posts/$POST_ID"
POST_ETAG=$(awk 'tolower($1) == "etag:" { sub(/\r$/, "", $2); print $2 }' "$HEADERS")
call 304 GET "$API/posts/$POST_ID" -H "if-none-match: $POST_ETAG"
call 200 PATCH "$API/posts/$POST_ID" "${AUTH[@]}" "${JSON[@]}" -H "if-match: $POST_ETAG" -d '{"title":"Hello again"}'
call 412 PATCH "$API/posts/$POST_ID" "${AUTH[@]}" "${JSON[@]}" -H "if-match: $POST_ETAG" -d '{"title":"Stale edit"}'
call 200 PUT "$API/posts/$POST_ID" "${AUTH[@]}" "${JSON[@]}" -d '{"title":"Replaced","content":"All new."}'
call 403 PATCH "$API/posts/$POST_ID" -H "authorization: Bearer $BOB" "${JSON[@]}" -d '{"title":"Bob was here"}'
call 401 POST "$API/posts" "${JSON[@]}" -d '{"title":"No token","content":"x"}'
call 422 POST "$API/posts" "${AUTH[@]}" "${JSON[@]}" -d '{"title":"","content":"x","id":"mine"}'
call 400 POST "$API/posts" "${AUTH[@]}" "${JSON[@]}" -d '{"title": '
call 415 POST "$API/posts" "${AUTH[@]}" -H 'content-type: text/plain' -d 'hello'
call 201 POST "$API/posts" "${AUTH[@]}" "${JSON[@]}" -d '{"title":"Second","content":"More.","tags":["intro"]}'
call 200 GET "$API/posts?limit=1"
CURSOR=$(json .next_cursor)
call 200 GET "$API/posts?limit=1&cursor=$CURSOR"
call 200 GET "$API/posts?author=alice&tag=intro"
call 422 GET "$API/posts?limit=500"

echo "== drafts and scheduled posts"
call 201 POST "$API/posts" "${AUTH[@]}" "${JSON[@]}" -d '{"title":"Work in progress","content":"...","status":"draft"}'
DRAFT_ID=$(json .id)
call 404 GET "$API/posts/$DRAFT_ID"
call 404 GET "$API/posts/$DRAFT_ID" -H "authorization: Bearer $BOB"
call 200 GET "$API/posts/$DRAFT_ID" "${AUTH[@]}"
call 200 GET "$API/posts?status=draft" "${AUTH[@]}"
[ "$(json '.data | length')" = 1 ] || { echo "FAIL  the draft is not in its author's drafts" >&2; exit 1; }
call 401 GET "$API/posts?status=draft"
call 422 POST "$API/posts" "${AUTH[@]}" "${JSON[@]}" -d '{"title":"x","content":"x","status":"hidden"}'
call 200 PATCH "$API/posts/$DRAFT_ID" "${AUTH[@]}" "${JSON[@]}" -d '{"status":"published"}'
call 200 GET "$API/posts/$DRAFT_ID"
call 201 POST "$API/posts" "${AUTH[@]}" "${JSON[@]}" \
  -d '{"title":"Monday news","content":"...","published_at":"2999-12-07T08:00:00Z"}'
call 404 GET "$API/posts/$(json .id)"

echo "== comments, favorites, follows and tags"
BOB_AUTH=(-H "authorization: Bearer $BOB")
call 201 POST "$API/posts/$POST_ID/comments" "${BOB_AUTH[@]}" "${JSON[@]}" -d '{"body":"Thanks, this helped."}'
COMMENT_ID=$(json .id)
call 200 GET "$API/posts/$POST_ID/comments?limit=20"
[ "$(json '.comments | length')" = 1 ] || { echo "FAIL  the comment is not listed" >&2; exit 1; }
call 401 POST "$API/posts/$POST_ID/comments" "${JSON[@]}" -d '{"body":"No token"}'
call 422 POST "$API/posts/$POST_ID/comments" "${BOB_AUTH[@]}" "${JSON[@]}" -d '{"body":"  "}'
call 204 DELETE "$API/posts/$POST_ID/comments/$COMMENT_ID" "${BOB_AUTH[@]}"
call 404 DELETE "$API/posts/$POST_ID/comments/$COMMENT_ID" "${BOB_AUTH[@]}"
call 200 PUT "$API/posts/$POST_ID/favorite" "${BOB_AUTH[@]}"
[ "$(json .favorites_count)" = 1 ] || { echo "FAIL  the favorite is not counted" >&2; exit 1; }
call 200 DELETE "$API/posts/$POST_ID/favorite" "${BOB_AUTH[@]}"
call 200 PUT "$API/users/$ALICE_ID/follow" "${BOB_AUTH[@]}"
call 422 PUT "$API/users/$BOB_ID/follow" "${BOB_AUTH[@]}"
call 200 GET "$API/users/me/feed?limit=20" "${BOB_AUTH[@]}"
[ "$(json '.data | length')" -ge 1 ] || { echo "FAIL  alice's posts are not in bob's feed" >&2; exit 1; }
call 200 DELETE "$API/users/$ALICE_ID/follow" "${BOB_AUTH[@]}"
call 200 PATCH "$API/users/me" "${AUTH[@]}" "${JSON[@]}" \
  -d '{"bio":"I write about Rust.","image":"https://example.com/alice.png"}'
call 409 PATCH "$API/users/me" "${AUTH[@]}" "${JSON[@]}" -d '{"username":"bob"}'
call 200 GET "$API/tags?limit=10"

echo "== search and feed"
call 200 GET "$API/posts?q=second"
[ "$(json '.data[0].title')" = Second ] || { echo "FAIL  search did not find 'Second'" >&2; exit 1; }
call 422 GET "$API/posts?q=%21%21"
call 200 GET "$BASE/feed.atom"
FEED_ETAG=$(awk 'tolower($1) == "etag:" { sub(/\r$/, "", $2); print $2 }' "$HEADERS")
call 304 GET "$BASE/feed.atom" -H "if-none-match: $FEED_ETAG"
call 200 GET "$BASE/feed.atom?author=alice&tag=intro"
call 204 DELETE "$API/posts/$POST_ID" "${AUTH[@]}"
call 404 GET "$API/posts/$POST_ID"

echo "== sessions"
call 200 POST "$API/auth/login" "${JSON[@]}" -d "{\"username\":\"alice\",\"password\":\"$PASSWORD\"}"
PHONE=$(json .access_token)
PHONE_REFRESH=$(json .refresh_token)
call 200 POST "$API/auth/refresh" "${JSON[@]}" -d "{\"refresh_token\":\"$PHONE_REFRESH\"}"
PHONE=$(json .access_token)
call 401 POST "$API/auth/refresh" "${JSON[@]}" -d "{\"refresh_token\":\"$PHONE_REFRESH\"}"
call 401 GET "$API/users/me" -H "authorization: Bearer $PHONE"
call 200 GET "$API/users/me/sessions" "${AUTH[@]}"
call 200 POST "$API/auth/login" "${JSON[@]}" -d "{\"username\":\"alice\",\"password\":\"$PASSWORD\"}"
LAPTOP=$(json .access_token)
call 204 POST "$API/auth/logout" -H "authorization: Bearer $LAPTOP"
call 401 GET "$API/users/me" -H "authorization: Bearer $LAPTOP"
call 403 GET "$API/users" "${AUTH[@]}"

echo "== admins and API clients (needs BLOG_ADMIN_USERNAME=root, BLOG_ADMIN_PASSWORD=\$ADMIN_PASSWORD)"
if [ -n "${ADMIN_PASSWORD:-}" ]; then
  call 200 POST "$API/auth/login" "${JSON[@]}" -d "{\"username\":\"root\",\"password\":\"$ADMIN_PASSWORD\"}"
  ADMIN=(-H "authorization: Bearer $(json .access_token)")
  call 200 GET "$API/users?limit=2" "${ADMIN[@]}"
  call 409 DELETE "$API/users/me" "${ADMIN[@]}"
  call 201 POST "$API/clients" "${ADMIN[@]}" "${JSON[@]}" -d '{"name":"Nightly importer","scopes":["posts:write"]}'
  CLIENT_ID=$(json .client_id)
  CLIENT_SECRET=$(json .client_secret)
  call 200 GET "$API/clients" "${ADMIN[@]}"
  call 200 POST "$API/auth/token" -u "$CLIENT_ID:$CLIENT_SECRET" -d grant_type=client_credentials
  CLIENT_TOKEN=$(json .access_token)
  call 200 POST "$API/auth/token" -d grant_type=client_credentials -d "client_id=$CLIENT_ID" \
    --data-urlencode "client_secret=$CLIENT_SECRET"
  call 401 POST "$API/auth/token" -u "$CLIENT_ID:wrong" -d grant_type=client_credentials
  call 201 POST "$API/posts" -H "authorization: Bearer $CLIENT_TOKEN" "${JSON[@]}" \
    -d '{"title":"Imported","content":"From the importer."}'
  call 403 GET "$API/users/me" -H "authorization: Bearer $CLIENT_TOKEN"
  call 204 DELETE "$API/clients/$CLIENT_ID" "${ADMIN[@]}"
  call 401 POST "$API/posts" -H "authorization: Bearer $CLIENT_TOKEN" "${JSON[@]}" \
    -d '{"title":"After revocation","content":"x"}'
else
  echo "skipped: ADMIN_PASSWORD is not set"
fi

echo "== password and account"
call 204 PUT "$API/users/me/password" "${AUTH[@]}" "${JSON[@]}" \
  -d "{\"current_password\":\"$PASSWORD\",\"new_password\":\"a new and longer passphrase\"}"
call 204 DELETE "$API/users/me" "${AUTH[@]}"
call 401 GET "$API/users/me" "${AUTH[@]}"

echo "walkthrough: every step answered as documented"
