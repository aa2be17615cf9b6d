// Package contactsync is the deployable root: Cloud Functions' Go buildpack
// builds only this package, so it imports the four function packages, whose
// init() functions register Settings, Intake, Poll and Apply. Each
// deployment picks one with its entry point (FUNCTION_TARGET).
package contactsync

import (
	_ "github.com/GoogleCloudPlatform/functions-framework-go/functions"

	_ "github.com/contactsync/contactsync/functions/apply"
	_ "github.com/contactsync/contactsync/functions/intake"
	_ "github.com/contactsync/contactsync/functions/poll"
	_ "github.com/contactsync/contactsync/functions/settings"
)
