package settings

import (
	"context"
	"slices"
	"time"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/connect"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/store"
)

// chrome is what every page's frame needs.
type chrome struct {
	Lang    string
	Langs   []langLink
	CSRF    string
	SignOut bool // the session owns a connection
	// Refresh is how often (seconds) the page updates itself; 0 = never.
	Refresh int
}

type langLink struct {
	Code, Name, Path string
	Current          bool
}

func newChrome(lang string) chrome {
	c := chrome{Lang: lang}
	for _, l := range languages {
		c.Langs = append(c.Langs, langLink{Code: l.Code, Name: l.Name, Path: "/lang/" + l.Code, Current: l.Code == lang})
	}
	return c
}

// pageData is what the page template sees.
type pageData struct {
	chrome
	Notice string
	Error  shown
	Conns  []connView
	New    pdForm // connect another (or the first) Pipedrive account
}

// pdForm feeds the Pipedrive connect buttons and API token form.
type pdForm struct {
	CSRF   string
	OAuth  bool
	ConnID string // "" for a new connection
	FormID string // unique per page, for label ids
}

// refreshEvery is how often a page with something running updates itself.
const refreshEvery = 5

// connView is one connection as the page shows it, in the page's language.
type connView struct {
	lang  string // the page's language
	ID    string
	Title string
	CSRF  string
	State stateView
	// Running says something is in progress (the first sync, or whatever
	// the server marks so): the page updates itself.
	Running bool
	Setup   bool // not started yet: the steps are shown
	Ready   bool // both accounts connected: the group can be chosen

	Pipedrive *pipedriveView // nil: not connected
	Google    *googleView    // nil: not connected
	Group     *groupView     // nil: not chosen
	Policy    policyView
	Policies  []policyView

	Groups      []connect.Group // the picker's choices (setup only)
	Recommended string
	GroupsError shown

	PDForm          pdForm
	ReauthGoogle    bool
	ReauthPipedrive bool
	CanPause        bool
	CanResume       bool

	LastPoll    time.Time
	LastWebhook time.Time
	Linked      int64
	Errors      []lineView
	Events      []lineView

	// Seams (see seams.go).
	Preview   *FirstSyncPreview
	Progress  *FirstSyncProgress
	Finished  *FirstSyncDone
	Counts    *CountsView
	Brake     *BrakeView
	Held      []HeldChange
	Ambiguous []AmbiguousMatch
	Search    *ContactSearch
}

type pipedriveView struct {
	Name, Email, Company, Auth string
	ID                         int64
}

type googleView struct{ Email string }

type groupView struct {
	Resource string
	Name     string
	Members  int64
	Known    bool // Google answered: Members is current
}

type policyView struct {
	Value, Label, Help string
	Checked            bool
}

type lineView struct {
	At time.Time
	shown
}

// stateView is the connection's state in words, with what to do.
type stateView struct {
	Kind   string // setup, first_sync, live, paused, brake, safety, reauth_google, reauth_pipedrive, reauth, error, disconnecting
	Tone   string // ok, info, warn, bad
	Title  string
	Detail shown // the stored reason, when it adds to the title
	ToDo   string
}

var policyValues = []string{"propagate", "unlink", "ignore"}

func policies(lang, current string) []policyView {
	var out []policyView
	for _, p := range policyValues {
		out = append(out, policyView{Value: p, Label: tr(lang, "policy."+p+".label"), Help: tr(lang, "policy."+p+".help"), Checked: p == current})
	}
	return out
}

var stateTones = map[string]string{
	"setup": "info", "first_sync": "info", "live": "ok", "paused": "warn", "brake": "bad", "safety": "bad",
	"reauth_google": "bad", "reauth_pipedrive": "bad", "reauth": "bad", "error": "bad", "disconnecting": "warn",
}

// stateOf names c's state. Paused and needs-re-authorization are told
// apart by the reason the poller or applier stored.
func stateOf(c *store.Connection) (kind string, reason text) {
	key, _ := storedKey(c.StatusReason)
	if c.StatusReason != "" {
		reason = storedText(c.StatusReason)
	}
	switch c.Status {
	case store.StatusSetup, "":
		return "setup", text{}
	case store.StatusFirstSync:
		return "first_sync", text{}
	case store.StatusLive:
		if !c.BrakeTrippedAt.IsZero() {
			return "brake", text{} // deletes held, edits syncing
		}
		return "live", text{}
	case store.StatusPaused:
		switch c.PauseReason {
		case store.PauseBrake:
			return "brake", reason
		case store.PauseEmptyGoogle, store.PauseEmptyPipedrive, store.PauseGroupGone:
			return "safety", reason
		case store.PauseUser:
			return "paused", text{}
		}
		switch key { // connections paused before the reason was stored
		case "stored.brake":
			return "brake", reason
		case "stored.empty_group", "stored.group_gone":
			return "safety", reason
		case "stored.disconnecting":
			return "disconnecting", text{}
		case "stored.paused_by_you":
			return "paused", text{}
		}
		return "paused", reason // "" when no reason was stored
	case store.StatusNeedsReauth:
		switch {
		case c.ReauthGoogle && c.ReauthPipedrive:
			return "reauth", reason
		case c.ReauthGoogle:
			return "reauth_google", text{}
		case c.ReauthPipedrive:
			return "reauth_pipedrive", text{}
		}
		switch key { // connections marked before the account was stored
		case "stored.google_revoked":
			return "reauth_google", text{}
		case "stored.pipedrive_revoked":
			return "reauth_pipedrive", text{}
		}
		return "reauth", reason
	case store.StatusError:
		return "error", reason
	}
	return "error", reason
}

// view prepares one connection in lang; it lists the Google groups when
// Google is connected (to offer the picker, and for the group's name and
// member count).
func (h *Handler) view(ctx context.Context, lang, csrf string, c *store.Connection) connView {
	v := connView{lang: lang, ID: c.ID, CSRF: csrf, Recommended: connect.RecommendedGroup, LastPoll: c.LastPollAt, LastWebhook: c.LastWebhookAt}
	kind, reason := stateOf(c)
	v.State = stateView{Kind: kind, Tone: stateTones[kind], Title: tr(lang, "state."+kind+".title"), ToDo: tr(lang, "state."+kind+".todo")}
	if !reason.empty() {
		v.State.Detail = reason.in(lang)
	}
	v.Setup = kind == "setup"
	v.Running = kind == "first_sync"
	v.ReauthGoogle = kind == "reauth_google" || kind == "reauth"
	v.ReauthPipedrive = kind == "reauth_pipedrive" || kind == "reauth"
	v.CanPause = c.Status == store.StatusLive || c.Status == store.StatusFirstSync || c.Status == store.StatusError
	v.CanResume = c.Status == store.StatusPaused || c.Status == store.StatusError
	v.PDForm = pdForm{CSRF: csrf, OAuth: h.pdOAuth, ConnID: c.ID, FormID: c.ID}

	if c.PipedriveUserID != 0 {
		p := &pipedriveView{ID: c.PipedriveUserID, Name: c.PipedriveUserName, Email: c.PipedriveUserEmail, Company: c.PipedriveCompanyName}
		switch c.PipedriveAuth {
		case account.PipedriveOAuth:
			p.Auth = tr(lang, "who.pipedrive.oauth")
		case account.PipedriveAPIToken:
			p.Auth = tr(lang, "who.pipedrive.token")
		}
		v.Pipedrive = p
	}
	if c.GoogleAccount != "" {
		v.Google = &googleView{Email: c.GoogleEmail}
	}
	v.Ready = v.Pipedrive != nil && v.Google != nil
	policy := c.DeletePolicy
	if policy == "" {
		policy = "propagate"
	}
	v.Policies = policies(lang, policy)
	for _, p := range v.Policies {
		if p.Checked {
			v.Policy = p
		}
	}
	if c.GoogleGroup != "" {
		v.Group = &groupView{Resource: c.GoogleGroup, Name: c.GoogleGroupName}
	}

	v.Title = tr(lang, "conn.title.new")
	switch {
	case v.Pipedrive != nil && v.Group != nil && v.Group.Name != "":
		v.Title = tr(lang, "conn.title.both", companyOr(lang, v.Pipedrive), v.Group.Name)
	case v.Pipedrive != nil:
		v.Title = tr(lang, "conn.title.pipedrive", companyOr(lang, v.Pipedrive))
	}

	// "linked" is counted from the links themselves (one aggregation read).
	if n, err := h.store.CountLinks(ctx, c.ID); err == nil {
		v.Linked = n
	} else {
		logging.FromContext(ctx).Info("settings: count links", "connection", c.ID, "err", err)
	}
	for i := len(c.LastErrors) - 1; i >= 0 && len(v.Errors) < 10; i-- {
		e := c.LastErrors[i]
		v.Errors = append(v.Errors, lineView{At: e.At, shown: errorText(e).in(lang)})
	}
	for i := len(c.Events) - 1; i >= 0; i-- {
		e := c.Events[i]
		v.Events = append(v.Events, lineView{At: e.At, shown: shown{Text: tr(lang, "event."+e.Kind)}})
	}

	if c.GoogleAccount != "" && !v.ReauthGoogle {
		gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		groups, err := h.svc.ListGroups(gctx, c.ID)
		cancel()
		if err != nil {
			v.GroupsError = connectText(err).in(lang)
			logging.FromContext(ctx).Info("settings: list groups", "connection", c.ID, "err", err)
		}
		if i := slices.IndexFunc(groups, func(g connect.Group) bool { return g.ResourceName == c.GoogleGroup }); i >= 0 && v.Group != nil {
			v.Group.Name, v.Group.Members, v.Group.Known = groups[i].Name, groups[i].MemberCount, true
		}
		if v.Setup {
			v.Groups = groups
		}
	}
	if v.Group != nil && v.Group.Name == "" {
		v.Group.Name = tr(lang, "who.group.unnamed")
	}
	h.fillSeams(ctx, c, &v)
	if v.Progress != nil || v.Preview != nil && v.Preview.Running {
		v.Running = true
	}
	return v
}

func companyOr(lang string, p *pipedriveView) string {
	if p.Company != "" {
		return p.Company
	}
	return tr(lang, "who.pipedrive.company_unknown")
}
