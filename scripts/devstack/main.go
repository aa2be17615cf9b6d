// Command devstack runs contactsync locally (see scripts/dev): emulators,
// sandbox fakes, the four functions and a scheduler ticker on loopback. It
// prints each URL as "name: URL", writes them to .dev/endpoints.json, and
// stops everything it started on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/localstack"
)

func main() {
	os.Exit(run())
}

func run() int {
	dir := flag.String("dir", envOr("DEV_DIR", ".dev"), "directory for endpoints.json, logs and binaries")
	noDemo := flag.Bool("no-demo", false, "start without the demo connection")
	seedFlag := flag.String("seed", "", "N,M: before you connect, fill the sandbox accounts with N Pipedrive persons and M Google contacts "+
		"in the group \""+localstack.DemoGroupName+"\", 30 % of the smaller number the same people on both sides (needs -no-demo)")
	flag.Parse()

	seed, err := parseSeed(*seedFlag, *noDemo)
	if err != nil {
		fmt.Fprintf(os.Stderr, "scripts/dev: %v\n", err)
		return 2
	}

	interval, err := time.ParseDuration(envOr("POLL_INTERVAL", "1m"))
	if err != nil || interval <= 0 {
		fmt.Fprintf(os.Stderr, "POLL_INTERVAL must be a positive Go duration such as 1m or 5s, got %q\n", os.Getenv("POLL_INTERVAL"))
		return 2
	}
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	absDir, _ := filepath.Abs(*dir)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stack, err := localstack.Start(ctx, localstack.Options{Root: root, Dir: absDir, PollInterval: interval, Log: log, NoDemo: *noDemo, Seed: seed})
	if err != nil {
		if errors.Is(err, emulator.ErrMissing) {
			fmt.Fprintf(os.Stderr, "contactsync cannot start locally: %v\n", err)
			return 3
		}
		fmt.Fprintf(os.Stderr, "contactsync failed to start: %v\nLogs: %s\n", err, filepath.Join(absDir, "logs"))
		return 1
	}
	e := stack.Endpoints
	for _, kv := range [][2]string{
		{"settings", e.Settings}, {"intake", e.Intake}, {"poll", e.Poll}, {"applier", e.Applier},
		{"google", e.Google}, {"pipedrive", e.Pipedrive}, {"firestore", e.Firestore}, {"pubsub", e.PubSub},
	} {
		fmt.Printf("%s: %s\n", kv[0], kv[1])
	}
	if d := e.Demo; d != nil && d.ConnectionID != "" {
		fmt.Printf("demo: connection %s is live: Pipedrive user %d <-> Google group %q of %s (tokens in endpoints.json)\n",
			d.ConnectionID, d.PipedriveUserID, localstack.DemoGroupName, d.GoogleUser)
	}
	if sd := stack.Seeded; sd != nil {
		fmt.Printf("seeded: %d persons of Pipedrive user %d and %d contacts in the Google group %q of %s, %d of them the same people; connect them on the settings page\n",
			sd.Seed.Persons, e.Demo.PipedriveUserID, sd.Seed.Contacts, localstack.DemoGroupName, e.Demo.GoogleUser, sd.Overlap)
	}
	fmt.Printf("endpoints: %s\nlogs: %s\nready; polling every %s. Press Ctrl-C to stop.\n",
		stack.EndpointsPath(), filepath.Join(absDir, "logs"), interval)

	<-ctx.Done()
	fmt.Println("stopping…")
	stack.Stop()
	fmt.Println("stopped")
	return 0
}

// parseSeed reads --seed, refused without --no-demo before anything
// starts: the demo connection would sync the seeded accounts itself while
// the stack starts, and the point of seeding is to connect them yourself.
func parseSeed(v string, noDemo bool) (localstack.Seed, error) {
	if v == "" {
		return localstack.Seed{}, nil
	}
	seed, err := localstack.ParseSeed(v)
	if err != nil {
		return seed, err
	}
	if !seed.Empty() && !noDemo {
		return seed, errors.New("--seed fills the sandbox accounts for a connection you make yourself on the settings page: add --no-demo")
	}
	return seed, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
