package settings

import (
	"bytes"
	"context"
	"html/template"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/connect"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/store"
)

// pageData is what the page template sees.
type pageData struct {
	Link        func(string) string
	CSRF        string
	PDOAuth     bool
	Notice      string
	Error       string
	Conns       []connView
	Recommended string
	Policies    []policyView
}

type policyView struct{ Value, Label, Help string }

var policies = []policyView{
	{"propagate", "Delete on both sides", "A contact deleted on one side is deleted on the other, unless it was edited there since (an edit beats a delete). Recommended."},
	{"unlink", "Stop syncing the pair", "A contact deleted on one side is kept on the other, and the two are no longer synced."},
	{"ignore", "Do nothing", "A delete on one side changes nothing on the other."},
}

type countView struct {
	Label string
	N     int64
}

type connView struct {
	*store.Connection
	StateLabel  string
	StateDetail string
	Ready       bool // both accounts connected
	Setup       bool
	CanPause    bool
	CanResume   bool
	Reauth      bool
	PDAuthLabel string
	Groups      []connect.Group
	GroupName   string
	GroupsError string
	Policy      string
	Counts      []countView
	Errors      []store.ErrorEntry
}

var stateLabels = map[store.Status][2]string{
	store.StatusSetup:       {"Not started", "Connect both accounts, choose a contact group and save to start the sync."},
	store.StatusFirstSync:   {"First sync running", "Existing contacts on both sides are being matched and copied."},
	store.StatusLive:        {"Live", "Changes in Pipedrive arrive in seconds; changes in Google within a poll interval."},
	store.StatusPaused:      {"Paused", "Nothing is synced until you resume."},
	store.StatusNeedsReauth: {"Needs re-authorization", "An account no longer accepts our access. Connect it again below; the sync resumes where it stopped."},
	store.StatusError:       {"Stopped by an error", "See the last errors below."},
}

// countOrder names the counters the sync keeps, in display order.
var countOrder = []struct{ key, label string }{
	{"linked", "linked"}, {"created", "created"}, {"updated", "updated"}, {"deleted", "deleted"},
	{"skipped", "skipped"}, {"conflicts", "conflicts merged"}, {"conflicts_merged", "conflicts merged"},
}

func counts(m map[string]int64) []countView {
	var out []countView
	seen := map[string]bool{}
	for _, c := range countOrder {
		if n, ok := m[c.key]; ok {
			out = append(out, countView{c.label, n})
			seen[c.key] = true
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		out = append(out, countView{strings.ReplaceAll(k, "_", " "), m[k]})
	}
	return out
}

// view prepares one connection; it lists the Google groups when Google is
// connected (to offer the picker, or to name the chosen group).
func (h *Handler) view(ctx context.Context, c *store.Connection) connView {
	v := connView{Connection: c, Policy: c.DeletePolicy}
	if v.Policy == "" {
		v.Policy = "propagate"
	}
	lbl, ok := stateLabels[c.Status]
	if !ok {
		lbl = [2]string{string(c.Status), ""}
	}
	v.StateLabel, v.StateDetail = lbl[0], lbl[1]
	if c.StatusReason != "" {
		v.StateDetail = c.StatusReason + " " + v.StateDetail
	}
	v.Setup = c.Status == store.StatusSetup || c.Status == ""
	v.Ready = c.PipedriveUserID != 0 && c.GoogleAccount != ""
	v.CanPause = c.Status == store.StatusLive || c.Status == store.StatusFirstSync || c.Status == store.StatusError
	v.CanResume = c.Status == store.StatusPaused || c.Status == store.StatusError
	v.Reauth = c.Status == store.StatusNeedsReauth
	switch c.PipedriveAuth {
	case account.PipedriveOAuth:
		v.PDAuthLabel = "signed in with OAuth"
	case account.PipedriveAPIToken:
		v.PDAuthLabel = "with an API token"
	}
	// "linked" is counted from the links themselves (one aggregation read),
	// so it is right even where no counter was kept.
	cs := maps.Clone(c.Counts)
	if n, err := h.store.CountLinks(ctx, c.ID); err == nil && n > 0 {
		if cs == nil {
			cs = map[string]int64{}
		}
		cs["linked"] = n
	} else if err != nil {
		logging.FromContext(ctx).Info("settings: count links", "connection", c.ID, "err", err)
	}
	v.Counts = counts(cs)
	for i := len(c.LastErrors) - 1; i >= 0 && len(v.Errors) < 10; i-- {
		v.Errors = append(v.Errors, c.LastErrors[i])
	}
	v.GroupName = c.GoogleGroup
	if c.GoogleAccount != "" && !v.Reauth {
		gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		groups, err := h.svc.ListGroups(gctx, c.ID)
		cancel()
		if err != nil {
			v.GroupsError = connect.Message(err)
			logging.FromContext(ctx).Info("settings: list groups", "connection", c.ID, "err", err)
		}
		for _, g := range groups {
			if g.ResourceName == c.GoogleGroup {
				v.GroupName = g.Name
			}
		}
		if v.Setup {
			v.Groups = groups
		}
	}
	return v
}

// render writes the page for sess with status code.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, sess session, code int, notice, errMsg string) {
	ctx := r.Context()
	conns, err := h.store.ConnectionsByOwner(ctx, sess.owner())
	if err != nil {
		logging.FromContext(ctx).Error("settings: list connections", "err", err)
		h.errorPage(w, r, http.StatusServiceUnavailable, "The settings are temporarily unavailable; please reload in a moment.")
		return
	}
	slices.SortFunc(conns, func(a, b *store.Connection) int { return a.CreatedAt.Compare(b.CreatedAt) })
	d := pageData{Link: h.link, CSRF: h.csrf(sess), PDOAuth: h.pdOAuth, Notice: notice, Error: errMsg,
		Recommended: connect.RecommendedGroup, Policies: policies}
	for _, c := range conns {
		d.Conns = append(d.Conns, h.view(ctx, c))
	}
	h.write(w, r, code, "page", d)
}

func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, code int, msg string) {
	h.write(w, r, code, "error", struct {
		Link    func(string) string
		Status  string
		Message string
	}{h.link, http.StatusText(code), msg})
}

func (h *Handler) write(w http.ResponseWriter, r *http.Request, code int, name string, data any) {
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		logging.FromContext(r.Context()).Error("settings: render", "err", err)
		http.Error(w, "The page could not be shown; please reload.", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// pdFormData feeds the Pipedrive connect form.
type pdFormData struct {
	Link    func(string) string
	CSRF    string
	PDOAuth bool
	ConnID  string
}

func pdForm(d pageData, connID string) pdFormData {
	return pdFormData{Link: d.Link, CSRF: d.CSRF, PDOAuth: d.PDOAuth, ConnID: connID}
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

var tmpl = template.Must(template.New("").Funcs(template.FuncMap{"time": fmtTime, "pd": pdForm}).Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>contactsync</title>
<style>
body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.45;color:#222}
section{border:1px solid #ccc;border-radius:6px;padding:0 1rem 1rem;margin:1.5rem 0}
.notice{background:#e8f5e9;border-left:4px solid #2e7d32;padding:.5rem 1rem}
.error{background:#fdecea;border-left:4px solid #c62828;padding:.5rem 1rem}
.warn{color:#8a5300}
dl{display:grid;grid-template-columns:11rem 1fr;gap:.35rem 1rem}dt{font-weight:600}dd{margin:0}
fieldset{border:1px solid #ddd;margin:.8rem 0}button{margin:.3rem .3rem .3rem 0}
</style></head><body>
<header><h1><a href="{{call .Link "/"}}">contactsync</a></h1>
<p>Keeps your Pipedrive persons and one Google contact group in step, both ways.</p></header>
<main>{{end}}

{{define "foot"}}</main></body></html>{{end}}

{{define "error"}}{{template "head" .}}
<h2>{{.Status}}</h2>
<p class="error" role="alert">{{.Message}}</p>
<p><a href="{{call .Link "/"}}">Back to the settings</a></p>
{{template "foot" .}}{{end}}

{{define "pdconnect"}}
{{if .PDOAuth}}<p><a href="{{call .Link "/connect/pipedrive"}}{{if .ConnID}}?conn={{.ConnID}}{{end}}">Sign in with Pipedrive</a></p>{{end}}
<form method="post" action="{{call .Link "/connect/pipedrive/token"}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">{{if .ConnID}}<input type="hidden" name="conn" value="{{.ConnID}}">{{end}}
<label>{{if .PDOAuth}}Or paste{{else}}Paste{{end}} your Pipedrive API token (Pipedrive: Settings &gt; Personal preferences &gt; API):
<input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Connect Pipedrive</button></form>
{{end}}

{{define "page"}}{{template "head" .}}
{{with .Notice}}<p class="notice" role="status">{{.}}</p>{{end}}
{{with .Error}}<p class="error" role="alert">{{.}}</p>{{end}}
{{$root := .}}
{{range .Conns}}
<section id="conn-{{.ID}}" aria-labelledby="title-{{.ID}}">
<h2 id="title-{{.ID}}">Connection {{.ID}}</h2>
<dl>
<dt>State</dt><dd><strong>{{.StateLabel}}</strong>{{with .StateDetail}} — {{.}}{{end}}</dd>
<dt>Pipedrive</dt><dd>{{if .PipedriveUserID}}user {{.PipedriveUserID}} in company {{.PipedriveCompanyID}}, {{.PDAuthLabel}}{{else}}not connected{{end}}</dd>
<dt>Google</dt><dd>{{if .GoogleAccount}}connected ({{.GoogleAccount}}){{else}}not connected{{end}}</dd>
<dt>Contact group</dt><dd>{{if .GoogleGroup}}{{.GroupName}}{{else}}not chosen{{end}}</dd>
<dt>Delete policy</dt><dd>{{.Policy}}</dd>
<dt>Last successful poll</dt><dd>{{time .LastPollAt}}</dd>
<dt>Counts</dt><dd>{{range $i, $c := .Counts}}{{if $i}}, {{end}}{{$c.N}} {{$c.Label}}{{else}}nothing synced yet{{end}}</dd>
</dl>
{{if .Errors}}<h3>Last errors</h3><ul>{{range .Errors}}<li>{{time .At}}: {{.Message}}</li>{{end}}</ul>{{end}}
{{with .GroupsError}}<p class="warn">{{.}}</p>{{end}}

{{if or (not .PipedriveUserID) .Reauth}}<h3>{{if .PipedriveUserID}}Connect Pipedrive again{{else}}Connect Pipedrive{{end}}</h3>
{{template "pdconnect" (pd $root .ID)}}{{end}}
{{if or (not .GoogleAccount) .Reauth}}<h3>{{if .GoogleAccount}}Connect Google again{{else}}Connect Google{{end}}</h3>
<p><a href="{{call $root.Link "/connect/google"}}?conn={{.ID}}">Sign in with Google</a> (we ask for access to your contacts, and only sync the group you choose).</p>{{end}}

{{if and .Setup .Ready}}
<h3>Choose what to sync</h3>
<form method="post" action="{{call $root.Link "/connections/"}}{{.ID}}/save">
<input type="hidden" name="csrf" value="{{$root.CSRF}}">
<fieldset><legend>Google contact group</legend>
<p><label><input type="radio" name="group" value="new" {{if not .GoogleGroup}}checked{{end}}> Create a new group named
<input type="text" name="group_name" value="{{$root.Recommended}}" maxlength="100"> (recommended: only the contacts you sync with Pipedrive go in it)</label></p>
{{$sel := .GoogleGroup}}{{range .Groups}}<p><label><input type="radio" name="group" value="{{.ResourceName}}" {{if eq .ResourceName $sel}}checked{{end}}> {{.Name}} ({{.MemberCount}} contacts)</label></p>
{{end}}
<p class="warn">"My Contacts" is not offered: syncing it would pull every contact you have, family and friends included, into Pipedrive.</p>
</fieldset>
<fieldset><legend>When a contact is deleted on one side</legend>
{{$pol := .Policy}}{{range $root.Policies}}<p><label><input type="radio" name="policy" value="{{.Value}}" {{if eq .Value $pol}}checked{{end}}> <strong>{{.Label}}</strong>: {{.Help}}</label></p>
{{end}}</fieldset>
<button type="submit">Save and start syncing</button>
</form>
{{end}}

{{if not .Setup}}
<form method="post" action="{{call $root.Link "/connections/"}}{{.ID}}/policy">
<input type="hidden" name="csrf" value="{{$root.CSRF}}">
<label>When a contact is deleted on one side:
<select name="policy">{{$pol := .Policy}}{{range $root.Policies}}<option value="{{.Value}}" {{if eq .Value $pol}}selected{{end}}>{{.Label}}</option>{{end}}</select></label>
<button type="submit">Save policy</button></form>
{{if .CanPause}}<form method="post" action="{{call $root.Link "/connections/"}}{{.ID}}/pause"><input type="hidden" name="csrf" value="{{$root.CSRF}}"><button type="submit">Pause</button></form>{{end}}
{{if .CanResume}}<form method="post" action="{{call $root.Link "/connections/"}}{{.ID}}/resume"><input type="hidden" name="csrf" value="{{$root.CSRF}}"><button type="submit">Resume</button></form>{{end}}
{{end}}
<form method="post" action="{{call $root.Link "/connections/"}}{{.ID}}/disconnect">
<input type="hidden" name="csrf" value="{{$root.CSRF}}">
<label><input type="checkbox" name="confirm" value="yes" required> Disconnect: revoke our access, remove our Pipedrive webhooks and delete everything we stored about this connection (no contact is deleted on either side).</label>
<button type="submit">Disconnect</button></form>
</section>
{{end}}

<section aria-labelledby="new-title">
<h2 id="new-title">{{if .Conns}}Add another connection{{else}}Connect your accounts{{end}}</h2>
<p>Start with your Pipedrive account; then connect Google and choose a contact group.
If your Pipedrive user already has a connection (for example from another browser), connecting it here brings that connection to this browser.</p>
{{template "pdconnect" (pd $root "")}}
</section>
{{template "foot" .}}{{end}}
`))
