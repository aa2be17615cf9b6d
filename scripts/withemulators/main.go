// Command withemulators runs a command with the Firestore and Pub/Sub
// emulators available: it reuses emulators named by FIRESTORE_EMULATOR_HOST
// and PUBSUB_EMULATOR_HOST when they answer, starts them otherwise, sets
// CONTACTSYNC_REQUIRE_EMULATORS=1 so no emulator test can pass by skipping,
// and stops what it started when the command ends.
//
//	go run ./scripts/withemulators -- go test ./...
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/contactsync/contactsync/shared/emulator"
)

func main() { os.Exit(run()) }

func run() int {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withemulators -- COMMAND [ARGS...]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logDir := filepath.Join(os.TempDir(), "contactsync-emulators")
	_ = os.MkdirAll(logDir, 0o755)
	probe := &http.Client{Timeout: time.Second}
	for _, k := range []emulator.Kind{emulator.Firestore, emulator.PubSub} {
		if h := os.Getenv(k.EnvVar()); h != "" && emulator.Ready(h, probe) {
			fmt.Fprintf(os.Stderr, "withemulators: reusing %s emulator at %s\n", k, h)
			continue
		}
		f, err := os.Create(filepath.Join(logDir, string(k)+".log"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer f.Close()
		e, err := emulator.Start(ctx, k, "contactsync-test", f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "withemulators: %v\n", err)
			if errors.Is(err, emulator.ErrMissing) {
				return 3
			}
			return 1
		}
		defer e.Stop()
		os.Setenv(k.EnvVar(), e.Host)
		fmt.Fprintf(os.Stderr, "withemulators: %s emulator on %s (log %s)\n", k, e.Host, f.Name())
	}
	os.Setenv("CONTACTSYNC_REQUIRE_EMULATORS", "1")

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() {
		<-ctx.Done()
		_ = cmd.Process.Signal(syscall.SIGINT)
	}()
	err := cmd.Wait()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return exit.ExitCode()
	case err != nil:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
