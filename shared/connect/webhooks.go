package connect

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/contactsync/contactsync/shared/account"
	"github.com/contactsync/contactsync/shared/intake"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
)

// webhookActions are the person events we subscribe to, one webhook each.
// Three explicit actions rather than "*": they are exactly the events the
// intake handles (a merge arrives as a delete with merged_to_id plus a
// change with merged_from_id), a future action cannot flood the intake,
// and three of the 40 webhooks a Pipedrive user may have is affordable.
var webhookActions = []string{"create", "change", "delete"}

// WebhookVersion is the payload version we register.
const WebhookVersion = "2.0"

func limitErr(err error) error {
	return userErr(ErrWebhookLimit, err, "Pipedrive allows at most 40 webhooks per user, and this user has reached the limit. "+
		"Delete webhooks you no longer use in Pipedrive (Tools and apps > Webhooks), then save again.")
}

func forbiddenErr(err error) error {
	return userErr(ErrInvalidCredentials, err, "Pipedrive refused to register webhooks for this user. "+
		"Webhooks need an admin user (with an API token) or the app's admin scope (with OAuth).")
}

// EnsureWebhooks makes sure the connection's Pipedrive webhooks exist and
// re-registers those Pipedrive deleted (after 3 days without a successful
// delivery) or that went missing; it also removes duplicates and orphans
// of deleted connections on our intake URL. It returns how many webhooks
// it created. The poller's safety net calls it on its slow cadence; it
// costs one webhook listing when nothing is missing.
func (s *Service) EnsureWebhooks(ctx context.Context, conn *store.Connection) (created int, err error) {
	if conn == nil || conn.PipedriveUserID == 0 {
		return 0, userErr(ErrNotReady, nil, "Connect your Pipedrive account first.")
	}
	ids, made, err := s.ensureWebhooks(ctx, conn)
	if err != nil {
		return 0, err
	}
	if len(made) > 0 || !slices.Equal(ids, conn.WebhookIDs) {
		c, err := s.update(ctx, conn.ID, func(c *store.Connection) error {
			c.WebhookIDs = ids
			return nil
		})
		if err != nil {
			return len(made), err
		}
		conn.WebhookIDs = c.WebhookIDs
		conn.WebhookSecretHash = c.WebhookSecretHash
	}
	if len(made) > 0 {
		logging.FromContext(ctx).Info("pipedrive webhooks re-registered", "connection", conn.ID, "created", len(made))
	}
	return len(made), nil
}

// webhookPassword returns the connection's webhook password, creating one
// when there is none or the stored one no longer matches the hash the
// intake checks. rotated says the old webhooks can no longer authenticate
// and must be replaced.
//
// Two registrations may run at once (a double-clicked Save, the poller's
// safety net): the hash is set by compare-and-swap, so exactly one
// password wins, and the other run waits for the winner's sealed password
// and uses it.
func (s *Service) webhookPassword(ctx context.Context, c *store.Connection) (pw string, rotated bool, err error) {
	const waits = 5
	for attempt := 0; ; attempt++ {
		cur, err := s.Get(ctx, c.ID)
		if err != nil {
			return "", false, err
		}
		pw, err := s.accts.Secret(ctx, c.ID, store.SecretWebhook)
		if err != nil && !errors.Is(err, account.ErrNotConnected) {
			return "", false, err
		}
		if err == nil && len(cur.WebhookSecretHash) > 0 && subtle.ConstantTimeCompare(intake.SecretHash(pw), cur.WebhookSecretHash) == 1 {
			c.WebhookSecretHash = cur.WebhookSecretHash
			return pw, false, nil
		}
		if len(cur.WebhookSecretHash) > 0 && attempt < waits {
			// Another run may have just set the hash and be storing its
			// password: give it a moment before replacing it.
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return "", false, err
			}
			continue
		}
		if pw, err = newSecret(); err != nil {
			return "", false, err
		}
		hash := intake.SecretHash(pw)
		_, err = s.update(ctx, c.ID, func(c *store.Connection) error {
			if !bytes.Equal(c.WebhookSecretHash, cur.WebhookSecretHash) {
				return errLostRace
			}
			c.WebhookSecretHash = hash
			return nil
		})
		if errors.Is(err, errLostRace) && attempt < 2*waits {
			continue
		}
		if err != nil {
			return "", false, err
		}
		// Stored before any webhook carries it; until then the intake
		// refuses only deliveries that cannot exist yet.
		if err := s.accts.Put(ctx, c.ID, store.SecretWebhook, pw); err != nil {
			return "", false, fmt.Errorf("connect: store webhook secret: %w", err)
		}
		c.WebhookSecretHash = hash
		return pw, true, nil
	}
}

var errLostRace = errors.New("connect: webhook secret changed concurrently")

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ensureWebhooks reconciles the connection's webhooks with Pipedrive's list
// and returns the ids of the connection's webhooks afterwards, one per
// webhookActions entry in that order, and the ids it created.
//
// Ours are the ids recorded on the connection, and they are checked by id
// only. PV1's GET /webhooks example shows http_auth_user null and
// event_action "added" (v1 naming) whatever was sent, so neither the Basic
// user nor the action we registered can be expected back
// (facts-pipedrive.md, Corrections, "Webhook listing"): a recorded id that
// is listed is kept; one that is not was deleted (Pipedrive deletes a
// webhook after 3 days without a successful delivery) and is registered
// again. The one echo still used is subscription_url, also in the
// example: a recorded webhook listed with another URL (the intake moved)
// is replaced. Unrecorded webhooks on our intake URL that name a
// connection (our name "… (<connection id>)", or an echoed Basic user)
// are removed when that connection is this one (a duplicate from a lost
// concurrent registration) or no longer exists (an orphan taking one of
// the user's 40 slots); a listing that echoes neither leaves them alone.
func (s *Service) ensureWebhooks(ctx context.Context, c *store.Connection) (ids, created []int64, err error) {
	pd, err := s.pipedriveClient(ctx, c)
	if err != nil {
		return nil, nil, s.pipedriveErr(err)
	}
	pw, rotated, err := s.webhookPassword(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	hooks, err := pd.ListWebhooks(ctx)
	if err != nil {
		return nil, nil, s.pipedriveErr(err)
	}
	listed := make(map[int64]pipedrive.Webhook, len(hooks))
	for _, h := range hooks {
		listed[h.ID] = h
	}
	target := trimURL(s.cfg.IntakeURL)
	keep := map[string]int64{}
	var remove []int64
	for i, id := range c.WebhookIDs {
		h, ok := listed[id]
		// Which action it serves is its position: ids are recorded in
		// webhookActions order, and the listing's event_action is not
		// trusted (PV1 shows "added"). Records made before this rule were
		// sorted, which is the same order unless a webhook was once
		// registered again.
		action := ""
		if i < len(webhookActions) {
			action = webhookActions[i]
		}
		switch {
		case !ok:
			// gone: registered again below
		case rotated || action == "" || keep[action] != 0 ||
			h.SubscriptionURL != "" && !sameURL(h.SubscriptionURL, target):
			remove = append(remove, id) // old password, a stray id, or the intake moved
		default:
			keep[action] = id
		}
	}
	orphan := map[string]bool{}
	for _, h := range hooks {
		if slices.Contains(c.WebhookIDs, h.ID) || !sameURL(h.SubscriptionURL, target) {
			continue
		}
		conn := hookConnection(h)
		switch {
		case conn == "":
			continue // not recognisably ours: leave it
		case conn == c.ID:
			remove = append(remove, h.ID) // a duplicate of ours
		case h.UserID == c.PipedriveUserID:
			gone, ok := orphan[conn]
			if !ok {
				_, gerr := s.store.GetConnection(ctx, conn)
				if gerr != nil && !errors.Is(gerr, store.ErrNotFound) {
					return nil, nil, gerr
				}
				gone = errors.Is(gerr, store.ErrNotFound)
				orphan[conn] = gone
			}
			if gone {
				remove = append(remove, h.ID)
			}
		}
	}
	// Removals first: they free slots for the creations.
	for _, id := range remove {
		if err := pd.DeleteWebhook(ctx, id); err != nil && !errors.Is(err, pipedrive.ErrNotFound) {
			return nil, nil, s.pipedriveErr(err)
		}
	}
	for _, action := range webhookActions {
		if keep[action] != 0 {
			ids = append(ids, keep[action])
			continue
		}
		w, err := pd.CreateWebhook(ctx, pipedrive.WebhookInput{
			SubscriptionURL: s.cfg.IntakeURL, EventAction: action, EventObject: "person",
			Name: webhookName(action, c.ID), UserID: c.PipedriveUserID,
			HTTPAuthUser: c.ID, HTTPAuthPassword: pw, Version: WebhookVersion,
		})
		if err != nil {
			return nil, nil, s.rollback(ctx, pd, created, s.pipedriveErr(err))
		}
		created = append(created, w.ID)
		ids = append(ids, w.ID)
	}
	return ids, created, nil
}

// webhookName names our webhook for action: the connection id in
// parentheses at the end lets a listing that does not echo the Basic user
// still tell whose webhook it is.
func webhookName(action, connID string) string {
	return "contactsync person " + action + " (" + connID + ")"
}

// hookConnection returns the connection a listed webhook was registered
// for, from its name or, if the listing echoes it, its Basic user; "" if
// it shows neither.
func hookConnection(h pipedrive.Webhook) string {
	if rest, ok := strings.CutPrefix(h.Name, "contactsync person "); ok && strings.HasSuffix(rest, ")") {
		if _, id, ok := strings.Cut(rest[:len(rest)-1], " ("); ok && id != "" { // "<action> (<id>)"
			return id
		}
	}
	return h.HTTPAuthUser
}

// sameURL compares two webhook URLs as Pipedrive might normalise them:
// scheme and host case-insensitively, default ports and a trailing slash
// aside.
func sameURL(a, b string) bool {
	if trimURL(a) == trimURL(b) {
		return true
	}
	ua, err1 := url.Parse(strings.TrimSpace(a))
	ub, err2 := url.Parse(strings.TrimSpace(b))
	if err1 != nil || err2 != nil {
		return false
	}
	host := func(u *url.URL) string {
		h := strings.ToLower(u.Hostname())
		if p := u.Port(); p != "" && !(p == "443" && u.Scheme == "https" || p == "80" && u.Scheme == "http") {
			h += ":" + p
		}
		return h
	}
	return strings.EqualFold(ua.Scheme, ub.Scheme) && host(ua) == host(ub) &&
		trimURL(ua.EscapedPath()) == trimURL(ub.EscapedPath()) && ua.RawQuery == ub.RawQuery
}

// rollback deletes the webhooks created by a registration that failed half
// way, so a failed Save leaves nothing behind, and returns err.
func (s *Service) rollback(ctx context.Context, pd *pipedrive.Client, created []int64, err error) error {
	for _, id := range created {
		if derr := pd.DeleteWebhook(ctx, id); derr != nil && !errors.Is(derr, pipedrive.ErrNotFound) {
			logging.FromContext(ctx).Warn("connect: rollback of a webhook failed", "webhook", id, "err", derr)
		}
	}
	return err
}

// pipedriveErr puts Pipedrive failures the user can act on in plain words.
func (s *Service) pipedriveErr(err error) error {
	switch {
	case errors.Is(err, pipedrive.ErrWebhookLimit):
		return limitErr(err)
	case errors.Is(err, pipedrive.ErrForbidden):
		return forbiddenErr(err)
	case gone(err):
		return userErr(ErrInvalidCredentials, err, "Pipedrive no longer accepts this connection's credentials. Connect your Pipedrive account again.")
	}
	return err
}

// deleteWebhooks removes the connection's webhooks (the recorded ones and
// any on our intake URL carrying the connection's id). Credentials that no
// longer work end it quietly: Pipedrive drops webhooks of an uninstalled
// app itself, and deletes failing ones after 3 days.
func (s *Service) deleteWebhooks(ctx context.Context, c *store.Connection) error {
	if c.PipedriveUserID == 0 {
		return nil
	}
	pd, err := s.pipedriveClient(ctx, c)
	if gone(err) {
		return nil
	}
	if err != nil {
		return err
	}
	ids := slices.Clone(c.WebhookIDs)
	hooks, err := pd.ListWebhooks(ctx)
	switch {
	case gone(err):
		return nil
	case errors.Is(err, pipedrive.ErrForbidden):
		// Cannot list: delete the recorded ones.
	case err != nil:
		return err
	}
	target := trimURL(s.cfg.IntakeURL)
	for _, h := range hooks {
		if sameURL(h.SubscriptionURL, target) && hookConnection(h) == c.ID && !slices.Contains(ids, h.ID) {
			ids = append(ids, h.ID)
		}
	}
	for _, id := range ids {
		err := pd.DeleteWebhook(ctx, id)
		switch {
		case err == nil, errors.Is(err, pipedrive.ErrNotFound):
		case gone(err):
			return nil
		default:
			return err
		}
	}
	return nil
}
