package googlefake

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// syncToken is what a People sync token encodes: a change log position, the
// frozen request parameters, the start of the token chain (the full sync)
// and the issue time. Google's tokens are opaque; these are too.
type syncToken struct {
	User  string `json:"u"`
	Pos   uint64 `json:"p"`
	Key   string `json:"k"`
	Full  int64  `json:"f"`
	Issue int64  `json:"i"`
	Gen   uint64 `json:"g"` // the user's token generation (ExpireSyncTokens)
}

func (t syncToken) encode() string {
	b, _ := json.Marshal(t)
	return "EN" + base64.RawURLEncoding.EncodeToString(b)
}

func decodeSyncToken(s string) (syncToken, bool) {
	var t syncToken
	raw, ok := strings.CutPrefix(s, "EN")
	if !ok {
		return t, false
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || json.Unmarshal(b, &t) != nil {
		return t, false
	}
	return t, true
}

func errExpiredSyncToken() *apiError {
	// Observed shape (facts §1): 400, this message, ErrorInfo
	// EXPIRED_SYNC_TOKEN; the legacy reason failedPrecondition is assumed [?].
	e := errFailedPrecondition("Sync token is expired. Clear local cache and retry call without the sync token.")
	e.details = []any{errorInfo("EXPIRED_SYNC_TOKEN", "people.googleapis.com", nil)}
	return e
}

// tokenExpired applies the clock-driven expiry and the ExpireSyncTokens hook.
func (s *Server) tokenExpired(u *user, t syncToken) bool {
	now := s.clock.Now()
	issued := time.Unix(0, t.Issue)
	if t.Gen != u.syncGen {
		return true
	}
	from := time.Unix(0, t.Full)
	if s.cfg.ttlFromIssue {
		from = issued
	}
	return s.cfg.syncTokenTTL > 0 && !now.Before(from.Add(s.cfg.syncTokenTTL))
}

// syncPos is the change log position up to which every change is visible to
// sync listings; changes still inside the propagation delay stay after it,
// so the next incremental sync picks them up.
func (u *user) syncPos(now time.Time) uint64 {
	pos := u.seq
	for _, c := range u.contacts {
		if c.hasStale && now.Before(c.visibleAt) && c.seq-1 < pos {
			pos = c.seq - 1
		}
	}
	return pos
}

type pageItem struct {
	c  *contact
	sn *snap
}

// listing is one frozen connections.list result, paged by page tokens.
type listing struct {
	user      *user
	key       string
	syncToken string
	items     []pageItem
	sync      bool
	next      string // nextSyncToken for the last page
	created   time.Time
}

type pageSession struct {
	l      *listing
	offset int
}

func paramsKey(mask map[string]bool, sources []string, pageSize int, sortOrder string, reqSync bool) string {
	fields := make([]string, 0, len(mask))
	for f := range mask {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	src := append([]string(nil), sources...)
	sort.Strings(src)
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%d|%s|%t", strings.Join(fields, ","), strings.Join(src, ","), pageSize, sortOrder, reqSync)
	return strconv.FormatUint(h.Sum64(), 36)
}

var validSortOrders = set("", "LAST_MODIFIED_ASCENDING", "LAST_MODIFIED_DESCENDING", "FIRST_NAME_ASCENDING", "LAST_NAME_ASCENDING")

func (s *Server) listConnections(u *user, r *http.Request, name string) (any, *apiError) {
	if name != "people/me" {
		return nil, errInvalid("") // only people/me is valid
	}
	q := r.URL.Query()
	mask, e := fieldMask(MethodConnectionsList, "personFields", q.Get("personFields"))
	if e != nil {
		return nil, e
	}
	if e := checkSources(q["sources"]); e != nil {
		return nil, e
	}
	pageSize := 100
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxConnectionsPage {
			return nil, errInvalid("")
		}
		if n > 0 {
			pageSize = n
		}
	}
	sortOrder := q.Get("sortOrder")
	if !validSortOrders[sortOrder] {
		return nil, errInvalid("")
	}
	reqSync := q.Get("requestSyncToken") == "true"
	key := paramsKey(mask, q["sources"], pageSize, sortOrder, reqSync)
	now := s.clock.Now()
	st := q.Get("syncToken")

	if pt := q.Get("pageToken"); pt != "" {
		ps := s.pages[pt]
		// Every parameter must match the call that started the listing.
		if ps == nil || ps.l.user != u || ps.l.key != key || ps.l.syncToken != st {
			return nil, errInvalid("")
		}
		return s.page(ps.l, ps.offset, pageSize, mask), nil
	}

	l := &listing{user: u, key: key, syncToken: st, created: now, sync: reqSync || st != ""}
	var full int64
	if st != "" {
		t, ok := decodeSyncToken(st)
		if !ok || t.User != u.id {
			return nil, errInvalid("")
		}
		if s.tokenExpired(u, t) {
			return nil, errExpiredSyncToken()
		}
		if t.Key != key {
			return nil, errInvalid("")
		}
		full = t.Full
		for _, c := range u.contacts {
			if c.seq > t.Pos && !(c.hasStale && now.Before(c.visibleAt)) {
				l.items = append(l.items, pageItem{c, c.cur})
			}
		}
		sort.Slice(l.items, func(i, j int) bool { return l.items[i].c.seq < l.items[j].c.seq })
	} else {
		full = now.UnixNano()
		for _, c := range u.contacts {
			if sn := c.view(now); sn != nil && !sn.deleted {
				l.items = append(l.items, pageItem{c, sn})
			}
		}
		sortItems(l.items, sortOrder, reqSync)
	}
	if reqSync {
		l.next = syncToken{User: u.id, Pos: u.syncPos(now), Key: key, Full: full, Issue: now.UnixNano(), Gen: u.syncGen}.encode()
	}
	return s.page(l, 0, pageSize, mask), nil
}

// sortItems orders a full listing; sortOrder applies only without sync.
func sortItems(items []pageItem, order string, sync bool) {
	less := func(i, j int) bool { return items[i].c.seq < items[j].c.seq }
	if !sync {
		switch order {
		case "LAST_MODIFIED_DESCENDING":
			less = func(i, j int) bool { return items[i].c.seq > items[j].c.seq }
		case "FIRST_NAME_ASCENDING", "LAST_NAME_ASCENDING":
			part := "givenName"
			if order == "LAST_NAME_ASCENDING" {
				part = "familyName"
			}
			nameOf := func(sn *snap) string {
				var ns []map[string]any
				_ = json.Unmarshal(sn.fields["names"], &ns)
				if len(ns) == 0 {
					return ""
				}
				return strings.ToLower(str(ns[0], part))
			}
			less = func(i, j int) bool { return nameOf(items[i].sn) < nameOf(items[j].sn) }
		}
	}
	sort.SliceStable(items, less)
}

func (s *Server) page(l *listing, offset, size int, mask map[string]bool) map[string]any {
	end := min(offset+size, len(l.items))
	out := map[string]any{}
	if end > offset {
		conns := make([]any, 0, end-offset)
		for _, it := range l.items[offset:end] {
			conns = append(conns, renderPerson(it.c, it.sn, mask, l.sync))
		}
		out["connections"] = conns
	}
	if n := len(l.items); n > 0 {
		out["totalItems"], out["totalPeople"] = n, n
	}
	if end < len(l.items) {
		tok := randToken("GgYK", 24)
		s.gcPagesLocked(l.created)
		s.pages[tok] = &pageSession{l: l, offset: end}
		out["nextPageToken"] = tok
	} else if l.next != "" {
		out["nextSyncToken"] = l.next // only on the last page
	}
	return out
}

// gcPagesLocked forgets page tokens of listings older than a day.
func (s *Server) gcPagesLocked(now time.Time) {
	if len(s.pages) < 1024 {
		return
	}
	for k, ps := range s.pages {
		if now.Sub(ps.l.created) > 24*time.Hour {
			delete(s.pages, k)
		}
	}
}
