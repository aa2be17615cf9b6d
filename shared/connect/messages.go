package connect

import (
	"errors"

	"github.com/contactsync/contactsync/shared/google"
	"github.com/contactsync/contactsync/shared/pipedrive"
	"github.com/contactsync/contactsync/shared/store"
)

// Message keys: every text the connect service says to a user has a stable
// key, so the settings page can say it in the user's language. The English
// wording stays in Error.Msg (logs, callers without a page).
//
// A user-facing message added to this package gets its key here; the
// settings package's tests fail for a message without a key or without a
// translation.

// messageKeys maps each message format given to userErr to its key.
var messageKeys = map[string]string{
	"Choose one of the offered delete policies.":                                                                                 "connect.policy_invalid",
	"An account needs to be connected again before the sync can start.":                                                          "connect.reauth_before_start",
	"Only a running sync can be paused.":                                                                                         "connect.pause_not_running",
	"Connect the account again to resume the sync.":                                                                              "connect.reauth_before_resume",
	"Save the connection first to start the sync.":                                                                               "connect.save_first",
	"A preview is shown before the first sync starts; the sync has already started.":                                             "connect.preview_too_late",
	"Could not remove our webhooks from Pipedrive; nothing was deleted. Please try again in a moment.":                           "connect.disconnect_webhooks_failed",
	"Could not revoke our access to Google; nothing was deleted. Please try again in a moment.":                                  "connect.disconnect_revoke_failed",
	"Connect your Pipedrive account first.":                                                                                      "connect.need_pipedrive",
	"Connect your Google account first.":                                                                                         "connect.need_google",
	"Choose the Google contact group to sync first.":                                                                             "connect.need_group",
	"Google no longer accepts our access to this account (it was revoked or has expired). Connect your Google account again.":    "connect.google_revoked",
	"Google did not return a refresh token; please connect again and grant access.":                                              "connect.google_no_refresh_token",
	"This connection syncs another Google account. Sign in with that account, or disconnect this connection first.":              "connect.google_mismatch",
	"Choose one of your own contact groups.":                                                                                     "connect.group_not_own",
	"A contact group named %q exists but is not one of your own groups; choose another name.":                                    "connect.group_name_taken",
	"Another connection already syncs this contact group; choose or create another one.":                                         "connect.group_in_use",
	"The contact group cannot change once the sync has started. Disconnect and connect again to sync another group.":             "connect.group_fixed",
	"Paste your Pipedrive API token (Settings > Personal preferences > API).":                                                    "connect.pipedrive_token_missing",
	"Pipedrive did not accept this API token. Copy it again from Pipedrive (Settings > Personal preferences > API).":             "connect.pipedrive_token_refused",
	"Pipedrive did not return a refresh token; please connect again.":                                                            "connect.pipedrive_no_refresh_token",
	"Pipedrive's answer did not name your company's API domain; please connect again.":                                           "connect.pipedrive_no_domain",
	"Pipedrive refused the authorization; please connect again.":                                                                 "connect.pipedrive_refused",
	"Pipedrive did not say which user this is; please try again.":                                                                "connect.pipedrive_no_user",
	"This Pipedrive user is already connected in another connection. Use that one, or disconnect it first.":                      "connect.pipedrive_already_connected",
	"This connection belongs to another Pipedrive user. Sign in to Pipedrive as that user, or disconnect this connection first.": "connect.pipedrive_mismatch",
	"Pipedrive no longer accepts this connection's credentials. Connect your Pipedrive account again.":                           "connect.pipedrive_revoked",
	"Pipedrive allows at most 40 webhooks per user, and this user has reached the limit. Delete webhooks you no longer use in Pipedrive (Tools and apps > Webhooks), then save again.": "connect.webhook_limit",
	"Pipedrive refused to register webhooks for this user. Webhooks need an admin user (with an API token) or the app's admin scope (with OAuth).":                                     "connect.webhook_forbidden",
}

// Keys of the texts Message falls back to.
const (
	KeyNotFound    = "connect.not_found"
	KeyRateLimited = "connect.rate_limited"
	KeyUnavailable = "connect.unavailable"
	KeyDailyBudget = "connect.daily_budget"
)

// keyOf returns the key of a message given to userErr as format (or, for
// "%s", as the rendered msg) and whether format's arguments belong to it.
func keyOf(format, msg string) (key string, withArgs bool) {
	if k, ok := messageKeys[format]; ok {
		return k, true
	}
	return messageKeys[msg], false
}

// MessageKey returns the key of the text Message gives for err, with the
// arguments its text takes (for example a group's name).
func MessageKey(err error) (key string, args []any) {
	var ue *Error
	if errors.As(err, &ue) && ue.Key != "" {
		return ue.Key, ue.Args
	}
	switch {
	case errors.As(err, &ue):
		return "", nil // a message without a key: callers show Msg
	case errors.Is(err, store.ErrNotFound), errors.Is(err, ErrNotFound):
		return KeyNotFound, nil
	case errors.Is(err, pipedrive.ErrDailyBudget):
		return KeyDailyBudget, nil
	case errors.Is(err, google.ErrRateLimited), errors.Is(err, pipedrive.ErrRateLimited):
		return KeyRateLimited, nil
	}
	return KeyUnavailable, nil
}

// MessageFormats returns every keyed message format by key (English), for
// the settings page's translation tests.
func MessageFormats() map[string]string {
	out := make(map[string]string, len(messageKeys)+3)
	for f, k := range messageKeys {
		out[k] = f
	}
	out[KeyNotFound] = msgNotFound
	out[KeyRateLimited] = msgRateLimited
	out[KeyUnavailable] = msgUnavailable
	out[KeyDailyBudget] = msgDailyBudget
	return out
}
