// Package googlefake is an in-memory fake of Google's OAuth 2.0 endpoints and
// the People API v1, faithful enough that the official
// google.golang.org/api/people/v1 client and golang.org/x/oauth2 work against
// it unchanged. Every test and the local sandbox trust it, so it reproduces
// the behaviours listed in shared/facts-google-people.md §8: sync tokens with
// paging, parameter freezing and expiry; incremental tombstones; etags on
// every mutation; masks; batch limits; contact groups and memberships;
// per-user quotas; and fault injection.
//
// Everything is served under one base URL at the real paths (/o/oauth2/v2/auth,
// /token, /revoke, /v1/...), so switching between the fake and Google is only
// a base URL. Time comes from a Clock, so quota windows and token lifetimes can
// run in virtual time.
//
// Where the public sources disagree or are silent, the choice made is marked
// [inf] (inferred) or [?] (unconfirmed) in a comment.
package googlefake
