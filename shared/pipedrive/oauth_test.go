package pipedrive_test

import (
	"golang.org/x/oauth2"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

func oauthConfig(base string) *oauth2.Config {
	return &oauth2.Config{ClientID: "cid", ClientSecret: "csecret", Endpoint: pipedrive.OAuthEndpoint(base),
		RedirectURL: "http://127.0.0.1:9/cb"}
}
