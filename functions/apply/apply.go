// Package apply is the Cloud Function "Apply": a CloudEvent function fed by
// our own Pub/Sub push subscriptions (functions-framework-go turns the push
// body into a messagePublished event): changes for the applier, and the
// steps of first syncs for the first-sync runner. Returning an error makes
// Pub/Sub retry with backoff and, after the last attempt, dead-letter the
// message.
package apply

import (
	"context"
	"errors"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	fn "github.com/contactsync/contactsync/functions"
	"github.com/contactsync/contactsync/shared/applier"
	"github.com/contactsync/contactsync/shared/config"
	"github.com/contactsync/contactsync/shared/contact"
	"github.com/contactsync/contactsync/shared/firstsync"
	"github.com/contactsync/contactsync/shared/lazy"
	"github.com/contactsync/contactsync/shared/logging"
	"github.com/contactsync/contactsync/shared/queue"
)

// Name is the registered function name (the deployment's entry point).
const Name = "Apply"

func init() { functions.CloudEvent(Name, handle) }

type handlers struct {
	applier   *applier.Applier
	firstSync *firstsync.Runner
	topic     string // the first-sync topic
}

var deps = lazy.New(func(ctx context.Context) (*handlers, error) {
	var cfg config.Apply
	if err := config.Load(ctx, &cfg, nil); err != nil {
		return nil, err
	}
	s, err := fn.Store(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	accts, err := fn.Accounts(ctx, s, cfg.Crypto, cfg.Google, cfg.Pipedrive)
	if err != nil {
		return nil, err
	}
	pub, err := fn.Publisher(ctx, cfg.Project)
	if err != nil {
		return nil, err
	}
	m := contact.Mapper{DefaultRegion: cfg.PhoneRegion}
	a, err := applier.New(applier.Config{Store: s, Accounts: accts, Mapper: m})
	if err != nil {
		return nil, err
	}
	r, err := firstsync.New(firstsync.Config{Store: s, Accounts: accts, Publisher: pub,
		Topic: cfg.FirstSync, ChangesTopic: cfg.Changes, Mapper: m, DailyBase: cfg.PipedriveDailyBase})
	if err != nil {
		return nil, err
	}
	return &handlers{applier: a, firstSync: r, topic: cfg.FirstSync}, nil
})

func handle(ctx context.Context, e cloudevents.Event) error {
	d, err := queue.FromCloudEvent(e)
	if errors.Is(err, queue.ErrBadMessage) {
		logging.FromContext(ctx).Error("apply: not a Pub/Sub message; acknowledged", "err", logging.BoundErr(err), "type", logging.Bound(e.Type()))
		return nil
	}
	h, err := deps.Get(ctx)
	if err != nil {
		return err // not ready: retry later
	}
	if d.Topic == h.topic {
		s, err := queue.DecodeFirstSyncStep(d.Data)
		if err != nil {
			logging.FromContext(ctx).Error("apply: malformed first-sync step; acknowledged", "err", logging.BoundErr(err), "message_id", logging.Bound(d.MessageID))
			return nil
		}
		return h.firstSync.Handle(ctx, s)
	}
	return h.applier.Handle(ctx, d)
}
