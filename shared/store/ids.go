package store

import (
	"strings"
	"unicode/utf8"
)

// wellFormedID reports whether id can name one document of a collection:
// Firestore refuses "/" (it would name a document in another collection),
// "." and "..", ids matching __.*__, and more than 1500 bytes, and a
// request carrying invalid UTF-8 fails. Ids from outside (an OAuth state,
// a Basic user, a form field) that are not well formed name no document,
// so the lookups answer "not found" without asking Firestore, whose error
// would otherwise read as the store being unavailable.
func wellFormedID(id string) bool {
	return id != "" && len(id) <= 1500 && utf8.ValidString(id) && !strings.Contains(id, "/") &&
		id != "." && id != ".." && !(len(id) >= 4 && strings.HasPrefix(id, "__") && strings.HasSuffix(id, "__"))
}
