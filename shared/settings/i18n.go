package settings

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/connect"
)

// The page speaks English and German. The language is the one the browser
// prefers (Accept-Language) until the user picks one with the switch,
// which is remembered in a cookie. Every text is looked up by key in
// i18n/<lang>.json; both files have the same keys (a test checks it).
// A text with arguments uses fmt verbs (with explicit indexes where German
// word order differs). Counted texts have a ".one" and an ".other" form.

// Languages, in the order the switch shows them.
const (
	langEN = "en"
	langDE = "de"
)

var languages = []struct{ Code, Name string }{{langEN, "English"}, {langDE, "Deutsch"}}

// langCookie remembers the language the user picked.
const langCookie = "contactsync_lang"

//go:embed i18n/*.json
var i18nFS embed.FS

// catalog is the texts by language and key.
var catalog = loadCatalog()

func loadCatalog() map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, l := range languages {
		b, err := i18nFS.ReadFile("i18n/" + l.Code + ".json")
		if err != nil {
			panic(fmt.Sprintf("settings: i18n/%s.json: %v", l.Code, err))
		}
		m := map[string]string{}
		if err := json.Unmarshal(b, &m); err != nil {
			panic(fmt.Sprintf("settings: i18n/%s.json: %v", l.Code, err))
		}
		out[l.Code] = m
	}
	return out
}

// missing marks a key without a text (tests look for it).
const missing = "⟦"

// tr returns the text of key in lang with args.
func tr(lang, key string, args ...any) string {
	s, ok := catalog[lang][key]
	if !ok {
		return missing + key + "⟧"
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// trN returns the counted text of key for n: key.one or key.other, with n
// as the first argument.
func trN(lang, key string, n int64, args ...any) string {
	form := ".other"
	if n == 1 {
		form = ".one"
	}
	return tr(lang, key+form, append([]any{n}, args...)...)
}

// pickLang returns the request's language: the remembered choice, else the
// best supported one of Accept-Language, else English.
func pickLang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && supported(c.Value) {
		return c.Value
	}
	return negotiate(r.Header.Get("Accept-Language"))
}

func supported(code string) bool {
	return slices.ContainsFunc(languages, func(l struct{ Code, Name string }) bool { return l.Code == code })
}

// negotiate picks from an Accept-Language header (RFC 9110 12.5.4): the
// supported primary language with the highest weight; ties go to the
// earlier one.
func negotiate(header string) string {
	best, bestQ := langEN, -1.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if supported(primary) && q > 0 && q > bestQ {
			best, bestQ = primary, q
		}
	}
	return best
}

// text is something to show the user: a key with arguments, or words that
// have no key (shown as they are, marked as English on a German page).
type text struct {
	Key  string
	Args []any
	Raw  string
}

func keyed(key string, args ...any) text { return text{Key: key, Args: args} }

// shown is a text in the page's language; Lang is set when it is in
// another language than the page (an untranslated stored message).
type shown struct {
	Text string
	Lang string
}

func (t text) in(lang string) shown {
	if t.Key != "" {
		return shown{Text: tr(lang, t.Key, t.Args...)}
	}
	if lang != langEN {
		return shown{Text: t.Raw, Lang: langEN}
	}
	return shown{Text: t.Raw}
}

// connectText is an error of the connect service in words: its message
// key, or its English message when it has none.
func connectText(err error) text {
	key, args := connect.MessageKey(err)
	if key == "" {
		return text{Raw: connect.Message(err)}
	}
	return keyed(key, args...)
}

// Stored messages: the poller, the applier, the first sync and connect
// write plain English words into a connection's status reason, its last
// errors and the first sync's reason. The known ones are recognized here
// and shown in the user's language; others are shown as written.
var storedMessages = []struct {
	key     string
	pattern string // English, with %d and %s for the values
}{
	{"stored.google_revoked", "Google access was revoked or has expired; reconnect Google on the settings page. Syncing is stopped until then."},
	{"stored.google_revoked", "Google access was revoked or has expired; connect Google again to resume syncing."},
	{"stored.pipedrive_revoked", "Pipedrive access was revoked or has expired; reconnect Pipedrive on the settings page. Syncing is stopped until then."},
	{"stored.pipedrive_revoked", "Pipedrive access was revoked or has expired; connect Pipedrive again to resume syncing."},
	{"stored.credentials_missing", "An account of this connection has no stored credentials; connect it again to resume syncing."},
	{"stored.credentials_missing", "An account's stored authorization is missing; connect Google and Pipedrive again on the settings page."},
	{"stored.empty_group", "Paused: the Google group lists no contacts while %d are linked, so nothing was deleted. If the group was emptied on purpose, resume on the settings page to continue."},
	{"stored.group_gone", "Paused: the chosen Google contact group no longer exists, so nothing was deleted. Choose a group on the settings page."},
	{"stored.brake", "Paused: %d contacts were deleted or removed from the group in Google, more than the safety limit of %d of %d linked contacts. Nothing was deleted in Pipedrive. If this is intended, confirm the deletes on the settings page; otherwise restore the contacts in Google and resume."},
	{"stored.unreadable", "A change message could not be read and was skipped."},
	{"stored.webhooks_unchecked", "Pipedrive's webhooks could not be checked or registered again; changes made in Pipedrive may reach Google only every few minutes until this works."},
	{"stored.paused_by_you", "Paused by you."},
	// why the first sync waits (store.FirstSync.Reason)
	{"stored.firstsync_allowance", "the first sync has used its share of Pipedrive's daily request budget (the rest keeps the live sync running); it continues after Pipedrive's daily reset"},
	{"stored.firstsync_budget", "Pipedrive's daily request budget of the company is spent; the first sync continues after Pipedrive's daily reset"},
	{"stored.disconnecting", "Disconnecting."},
}

var storedRE = func() []*regexp.Regexp {
	out := make([]*regexp.Regexp, len(storedMessages))
	for i, m := range storedMessages {
		p := regexp.QuoteMeta(m.pattern)
		p = strings.NewReplacer("%d", `(\d+)`, "%s", `(.+?)`).Replace(p)
		out[i] = regexp.MustCompile("^" + p + "$")
	}
	return out
}()

// storedKey recognizes a stored message: its key and values, or "".
func storedKey(msg string) (string, []any) {
	msg = strings.TrimSpace(msg)
	for i, re := range storedRE {
		if m := re.FindStringSubmatch(msg); m != nil {
			args := make([]any, 0, len(m)-1)
			for _, v := range m[1:] {
				args = append(args, v)
			}
			return storedMessages[i].key, args
		}
	}
	return "", nil
}

// storedText is a stored message as a text.
func storedText(msg string) text {
	if k, args := storedKey(msg); k != "" {
		return keyed(k, args...)
	}
	return text{Raw: msg}
}

// utc is a time as the HTML carries it (the script shows it in the
// browser's zone and relative to now).
func utc(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func (t text) empty() bool { return t.Key == "" && t.Raw == "" }
