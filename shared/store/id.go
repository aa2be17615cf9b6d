package store

import (
	"regexp"
	"strings"
)

// idRE is the shape of the ids this store makes and hands out: connection
// ids (NewID: hex) and OAuth states (base64url). Firestore itself refuses
// a document id with "/" (it would name a document elsewhere, e.g.
// "ID/secrets/webhook"), "." and "..", and ids of the form __.*__.
var idRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// ValidID reports whether id is well formed: 1–128 letters, digits, "-"
// and "_", and not __.*__ (reserved by Firestore). An id from outside (a
// webhook's Basic user, an OAuth state, a form value, a URL) is checked
// with it before the store is asked, so a malformed one is refused like an
// unknown one, with no round trip and no error from Firestore.
func ValidID(id string) bool {
	if !idRE.MatchString(id) {
		return false
	}
	return !(strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"))
}
