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
	flag.Parse()

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
	stack, err := localstack.Start(ctx, localstack.Options{Root: root, Dir: absDir, PollInterval: interval, Log: log, NoDemo: *noDemo})
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
	fmt.Printf("endpoints: %s\nlogs: %s\nready; polling every %s. Press Ctrl-C to stop.\n",
		stack.EndpointsPath(), filepath.Join(absDir, "logs"), interval)

	<-ctx.Done()
	fmt.Println("stopping…")
	stack.Stop()
	fmt.Println("stopped")
	return 0
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
