package google

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// A sync token is bound to the request parameters of the listing that
// produced it: "When the page_token or sync_token is specified, all other
// request parameters must match the first call" (discovery document,
// people.connections.list). A deploy that changes personFields, sources or
// the page size makes every stored token useless, and Google refuses it.
// So a token is stored with a fingerprint of those parameters; one whose
// fingerprint is not the client's is dropped before it is sent, and the
// poller runs a full listing as for an expired token.

// storedTokenPrefix marks a stored token that carries a fingerprint. A
// token from Google is opaque but URL-safe (no "|"), so the format cannot
// be mistaken for a bare token stored before fingerprints existed.
const storedTokenPrefix = "sp1."

// SyncParams is the fingerprint of the parameters this client sends on
// every connections.list call (and that a sync token is bound to).
func (c *Client) SyncParams() string {
	p := fmt.Sprintf("personFields=%s&sources=%s&pageSize=%d&requestSyncToken=true", PersonFields, SourceContact, c.pageSize)
	sum := sha256.Sum256([]byte(p))
	return hex.EncodeToString(sum[:6])
}

// StoreSyncToken returns token as it should be stored: with the
// fingerprint of the parameters it is bound to ("" stays "").
func (c *Client) StoreSyncToken(token string) string {
	if token == "" {
		return ""
	}
	return storedTokenPrefix + c.SyncParams() + "|" + token
}

// LoadSyncToken returns the token to send for a stored one. ok is false
// when the stored token was made with other parameters: it must be dropped
// (token ""), and the listing is a full one. A token stored without a
// fingerprint (before fingerprints existed) is returned as it is: if its
// parameters differ, Google refuses it and ListPage says
// ErrSyncTokenRefused, which is handled like expiry.
func (c *Client) LoadSyncToken(stored string) (token string, ok bool) {
	rest, found := strings.CutPrefix(stored, storedTokenPrefix)
	if !found {
		return stored, true
	}
	fp, token, found := strings.Cut(rest, "|")
	if !found || fp != c.SyncParams() || token == "" {
		return "", false
	}
	return token, true
}
