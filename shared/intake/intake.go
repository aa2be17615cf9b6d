// Package intake receives Pipedrive webhooks: it authenticates the
// connection's HTTP Basic credentials, bounds and parses the body (v1 or v2),
// and publishes one change message per person event before answering 2xx,
// so an accepted event is never lost and a failed publish makes Pipedrive
// retry.
//
// What it answers to bad input (shared/intake/badinput_test.go holds the
// table): no credentials, a wrong password, another connection's password,
// a Basic user that is no well-formed id (refused before the store is
// asked) and an unknown connection all get the same 401, so connection ids
// cannot be probed; a body over the limit 413; a body that is no webhook
// 400; an event about another object or with an unknown action 200, and it
// is ignored. A replayed delivery is published again: the applier reads the
// person anew and finds nothing to do.
package intake

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive/webhook"
	"github.com/contactsync/contactsync/shared/queue"
	"github.com/contactsync/contactsync/shared/store"
	"github.com/contactsync/contactsync/shared/syncplan"
)

// Connections finds a connection by id (the Basic user name). The intake
// only reads: it is public, and its service account may not write.
type Connections interface {
	GetConnection(ctx context.Context, id string) (*store.Connection, error)
}

// Publisher publishes change messages and returns once they are stored.
type Publisher interface {
	PublishChanges(ctx context.Context, topic string, cs ...queue.Change) error
}

// Handler is the intake endpoint.
type Handler struct {
	conns   Connections
	pub     Publisher
	topic   string
	maxBody int64
}

// New refuses incomplete wiring.
func New(conns Connections, pub Publisher, topic string, maxBody int64) (*Handler, error) {
	if conns == nil || pub == nil || topic == "" || maxBody <= 0 {
		return nil, errors.New("intake.New: connections, publisher, topic and a positive body limit are required")
	}
	return &Handler{conns: conns, pub: pub, topic: topic, maxBody: maxBody}, nil
}

// SecretHash is what the store keeps of a webhook password: its SHA-256.
// The password is 32 random bytes, so a fast hash is enough.
func SecretHash(password string) []byte {
	h := sha256.Sum256([]byte(password))
	return h[:]
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="contactsync"`)
		reply(w, http.StatusUnauthorized, "missing HTTP Basic credentials")
		return
	}
	if !store.ValidID(user) {
		// No connection has this id: refused as one that does not exist,
		// before the store is asked.
		authorized(w, pass, nil)
		return
	}
	ctx = logging.With(ctx, "connection", user)
	log := logging.FromContext(ctx)
	conn, err := h.conns.GetConnection(ctx, user)
	switch {
	case errors.Is(err, store.ErrNotFound):
		authorized(w, pass, nil)
		return
	case err != nil:
		log.Error("intake: read connection", "err", err)
		reply(w, http.StatusServiceUnavailable, "temporarily unavailable, retry")
		return
	}
	if !authorized(w, pass, conn.WebhookSecretHash) {
		return
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		reply(w, http.StatusRequestEntityTooLarge, "body larger than the limit")
		return
	case err != nil:
		reply(w, http.StatusBadRequest, "could not read body")
		return
	}
	ev, err := webhook.Parse(body)
	switch {
	case errors.Is(err, webhook.ErrIgnored):
		// Another object's event, or an action we do not know.
		log.Debug("intake: ignored event", "object", known(ev.Object, entities), "action", known(ev.RawAction, actions))
		reply(w, http.StatusOK, "ignored: not a person event we sync")
		return
	case err != nil:
		reply(w, http.StatusBadRequest, "malformed webhook payload: "+logging.Bound(err.Error()))
		return
	}

	c := ToChange(conn.ID, conn.WebhookSecretHash, ev)
	if err := h.pub.PublishChanges(ctx, h.topic, c); err != nil {
		log.Error("intake: publish failed; Pipedrive will retry", "err", err, "person", ev.PersonID)
		reply(w, http.StatusServiceUnavailable, "could not queue the event, retry")
		return
	}
	log.Info("intake: queued", "person", ev.PersonID, "kind", c.Kind, "delivery", deliveryID(ev.DeliveryID),
		"change_source", known(ev.ChangeSource, sources))
	reply(w, http.StatusOK, "accepted")
}

// ToChange turns a person event into a change message: ids and the merge
// hints only (the applier re-reads the person; the payload's names, e-mails
// and phones stay out of Pub/Sub). A delete carries, of the deleted person
// it can no longer read, its add time and its keys' prints keyed by
// printKey (the connection's webhook secret hash; the applier reads the
// same).
func ToChange(connID string, printKey []byte, ev webhook.Event) queue.Change {
	c := queue.Change{
		ConnectionID: connID, Side: queue.Pipedrive, ObjectID: ev.PersonID,
		Kind: queue.Upsert, Source: queue.FromWebhook,
		MergedToID: ev.MergedToID, MergedFromID: ev.MergedFromID, OccurredAt: ev.OccurredAt,
	}
	if ev.Action == webhook.Delete {
		c.Kind = queue.Delete
		if ev.Gone != nil && !ev.Gone.AddTime.IsZero() {
			// The zero Mapper: phone keys without a country code are left
			// out (their E.164 form depends on the applier's region).
			c.Gone = &queue.Gone{AddedAt: ev.Gone.AddTime.UTC(),
				Prints: syncplan.KeyPrints(printKey, contact.Mapper{}.FromPipedrive(ev.Gone, ""))}
		}
	}
	if c.OccurredAt.IsZero() {
		c.OccurredAt = time.Now().UTC()
	}
	return c
}

// The sender chooses every string of a webhook: a log line carries one
// only when it is a word we know (or has the shape of a delivery id), so
// that whatever the body holds (a name, an e-mail address) stays out.
var (
	entities = []string{"activity", "deal", "file", "filter", "goal", "lead", "mail", "note", "organization", "person",
		"pipeline", "product", "project", "stage", "task", "user"}
	actions    = []string{"create", "change", "delete", "added", "updated", "deleted", "merged"}
	sources    = []string{"app", "api"}
	deliveryRE = regexp.MustCompile(`^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|` +
		`v1:person:[0-9]{1,19}:(added|updated|deleted|merged):[0-9 :.TZ+-]{1,40})$`)
)

// known is s if it is one of words, "" if empty, else "other".
func known(s string, words []string) string {
	if s == "" || slices.Contains(words, s) {
		return s
	}
	return "other"
}

// deliveryID is id if it has the shape of Pipedrive's delivery ids (v2's
// UUID, or the one Parse makes for v1), else "other".
func deliveryID(id string) string {
	if id == "" || deliveryRE.MatchString(id) {
		return id
	}
	return "other"
}

// noSecret stands in for the stored password hash of a connection that
// does not exist, so that refusing one costs the same hashing as a wrong
// password.
var noSecret = SecretHash("no connection has this password")

// authorized compares pass with the stored hash in constant time and
// reports whether it matches; if not (or hash is empty: no connection, or
// one without webhook credentials), it answers 401. The answer is the same
// for a wrong password, another connection's, an unknown connection and a
// malformed id, so neither ids nor their existence can be probed.
func authorized(w http.ResponseWriter, pass string, hash []byte) bool {
	want := hash
	if len(want) == 0 {
		want = noSecret
	}
	if subtle.ConstantTimeCompare(SecretHash(pass), want) == 1 && len(hash) > 0 {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="contactsync"`)
	reply(w, http.StatusUnauthorized, "wrong credentials")
	return false
}

func reply(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": http.StatusText(code), "message": msg})
}
