package settings

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/store"
)

// Per-contact history: the user searches a connection's contacts by name,
// e-mail address or phone number (GET /?conn=ID&q=TERM) and sees, for each
// contact found, its link's history: what changed on which side, what was
// written where, conflicts and how they were decided, and why something
// was skipped. Actions and field names are shown in the page's language;
// the sync's own note is shown as written (English).

// Bounds of the search.
const (
	maxQuery         = 200 // characters of a search term
	maxSearchRead    = 50  // links read for one search
	maxSearchResults = 5   // contacts shown with their history
)

// fillSearch sets v's search box and, when the request searches this
// connection, its results.
func (h *Handler) fillSearch(ctx context.Context, c *store.Connection, v *connView, q url.Values) {
	if v.Setup {
		return
	}
	s := &ContactSearch{}
	v.Search = s
	if q.Get("conn") != c.ID {
		return
	}
	term := strings.TrimSpace(q.Get("q"))
	for utf8.RuneCountInString(term) > maxQuery {
		_, n := utf8.DecodeLastRuneInString(term)
		term = term[:len(term)-n]
	}
	s.Query, s.Searched = term, term != ""
	keys := h.mapper.SearchTerm(term)
	if len(keys) == 0 {
		return
	}
	links, err := h.store.SearchLinks(ctx, c.ID, keys, maxSearchRead)
	if err != nil {
		logging.FromContext(ctx).Info("settings: search links", "connection", c.ID, "err", err)
		return
	}
	// The contacts that match most of what was typed come first: a search
	// for "Ada Lovelace" finds every Ada, but shows Ada Lovelace.
	score := func(l *store.Link) int {
		n := 0
		for _, k := range keys {
			if slices.Contains(l.SearchKeys, k) {
				n++
			}
		}
		return n
	}
	best := 0
	for _, l := range links {
		best = max(best, score(l))
	}
	links = slices.DeleteFunc(links, func(l *store.Link) bool { return score(l) < best })
	slices.SortFunc(links, func(a, b *store.Link) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	if len(links) > maxSearchResults {
		links, s.More = links[:maxSearchResults], true
	}
	for _, l := range links {
		s.Results = append(s.Results, historyOf(v.lang, l))
	}
}

// historyOf is a link's history in lang, newest first.
func historyOf(lang string, l *store.Link) ContactHistory {
	base := baseOf(l)
	ch := ContactHistory{ID: l.ID, Name: linkName(l)}
	var about []string
	if base.Org != "" && base.Org != ch.Name {
		about = append(about, base.Org)
	}
	if len(base.Emails) > 0 && base.Emails[0].Value != ch.Name {
		about = append(about, base.Emails[0].Value)
	}
	ch.About = strings.Join(about, " · ")
	var facts []string
	if l.CreatedOn == "pipedrive" || l.CreatedOn == "google" {
		facts = append(facts, tr(lang, "history.created_on."+l.CreatedOn))
	}
	if l.Updates > 0 {
		facts = append(facts, trN(lang, "history.updates", l.Updates))
	}
	if l.Conflicts > 0 {
		facts = append(facts, trN(lang, "history.conflicts", l.Conflicts))
	}
	ch.Facts = strings.Join(facts, " · ")
	for i := len(l.History) - 1; i >= 0; i-- {
		ch.Lines = append(ch.Lines, historyLine(lang, l.History[i]))
	}
	return ch
}

// historyLine is one history entry in lang: the change (side and fields),
// what was written where, and whether a conflict was decided.
func historyLine(lang string, e store.HistoryEntry) ContactHistoryLine {
	line := ContactHistoryLine{At: e.At}
	var parts []string
	if e.Action != mergeAction && e.Side != "" {
		change := "history.change"
		if strings.HasPrefix(e.Action, "create ") { // the record is new on its side
			change = "history.new"
		}
		what := tr(lang, change+"."+sideKey(e.Side))
		if len(e.Fields) > 0 {
			what = tr(lang, change+"_fields."+sideKey(e.Side), fieldNames(lang, e.Fields))
		}
		parts = append(parts, what)
	}
	var done []string
	for _, a := range strings.Split(e.Action, ", ") {
		done = append(done, actionText(lang, a))
	}
	parts = append(parts, strings.Join(done, ", "))
	line.Text = strings.Join(parts, " → ")
	if e.Conflict {
		line.Conflict = tr(lang, "history.conflict")
	}
	if e.Detail != "" {
		line.Detail = text{Raw: e.Detail}.in(lang)
	}
	return line
}

// mergeAction is the applier's action for a Pipedrive merge.
const mergeAction = "merge"

func sideKey(side string) string {
	if side == "pipedrive" || side == "google" {
		return side
	}
	return "other"
}

// actionText is one action of a history entry ("update google", "skip",
// "link", "merge") in lang; an unknown one as written.
func actionText(lang, a string) string {
	op, side, _ := strings.Cut(strings.TrimSpace(a), " ")
	key := "history.op." + op
	if side != "" {
		key += "." + side
	}
	if _, ok := catalog[langEN][key]; ok {
		return tr(lang, key)
	}
	return a
}

// fieldNames lists synced fields by their names in lang.
func fieldNames(lang string, fields []string) string {
	out := make([]string, 0, len(fields))
	for _, f := range fields {
		if _, ok := catalog[langEN]["field."+f]; ok {
			out = append(out, tr(lang, "field."+f))
		} else {
			out = append(out, f)
		}
	}
	return strings.Join(out, ", ")
}
