// Package emulator starts and stops Google's Firestore and Pub/Sub emulators
// (from the gcloud CLI) on free loopback ports, for the local stack and the
// test suite, and says exactly what to install when they are missing.
package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kind is which emulator.
type Kind string

// The emulators contactsync uses.
const (
	Firestore Kind = "firestore"
	PubSub    Kind = "pubsub"
)

// EnvVar is the variable the Google client libraries read to reach k.
func (k Kind) EnvVar() string {
	if k == Firestore {
		return "FIRESTORE_EMULATOR_HOST"
	}
	return "PUBSUB_EMULATOR_HOST"
}

// ErrMissing means a prerequisite is not installed; the message says what
// to install.
var ErrMissing = errors.New("emulator prerequisite missing")

// component is the gcloud component directory (under the SDK's platform/)
// and the Debian package that provides it.
func (k Kind) component() (dir, deb, gcloudName string) {
	if k == Firestore {
		return "cloud-firestore-emulator", "google-cloud-cli-firestore-emulator", "cloud-firestore-emulator"
	}
	return "pubsub-emulator", "google-cloud-cli-pubsub-emulator", "pubsub-emulator"
}

// Check reports, for each kind, what is missing to run it.
func Check(kinds ...Kind) error {
	var problems []string
	gcloud, err := exec.LookPath("gcloud")
	if err != nil {
		problems = append(problems, "gcloud is not on PATH: install the Google Cloud CLI (Debian package google-cloud-cli)")
	}
	if _, err := exec.LookPath("java"); err != nil {
		problems = append(problems, "java is not on PATH: the emulators need Java 17 or newer (Debian package openjdk-17-jre-headless)")
	}
	if gcloud != "" {
		root := sdkRoot(gcloud)
		for _, k := range kinds {
			dir, deb, name := k.component()
			if _, err := os.Stat(filepath.Join(root, "platform", dir)); err != nil {
				problems = append(problems, fmt.Sprintf("the %s emulator is not installed: apt-get install %s (or: gcloud components install %s)", k, deb, name))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w:\n  - %s", ErrMissing, strings.Join(problems, "\n  - "))
	}
	return nil
}

// sdkRoot finds the Cloud SDK root from the gcloud binary: gcloud lives in
// ROOT/bin (a Debian install links /usr/bin/gcloud there).
func sdkRoot(gcloud string) string {
	if p, err := filepath.EvalSymlinks(gcloud); err == nil {
		gcloud = p
	}
	root := filepath.Dir(filepath.Dir(gcloud))
	if _, err := os.Stat(filepath.Join(root, "platform")); err == nil {
		return root
	}
	// Debian's /usr/bin/gcloud is a script, not a link.
	return "/usr/lib/google-cloud-sdk"
}

// Emulator is one running emulator.
type Emulator struct {
	Kind Kind
	Host string // host:port on loopback
	cmd  *exec.Cmd
	done chan struct{}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("emulator: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start runs the emulator of kind k for project on a free loopback port and
// waits until it answers. Its output goes to logw. The emulator runs in its
// own process group so Stop ends its Java child too.
func Start(ctx context.Context, k Kind, project string, logw io.Writer) (*Emulator, error) {
	if err := Check(k); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	var args []string
	if k == Firestore {
		args = []string{"emulators", "firestore", "start", "--host-port=" + host}
	} else {
		args = []string{"beta", "emulators", "pubsub", "start", "--project=" + project, "--host-port=" + host}
	}
	cmd := exec.Command("gcloud", args...)
	cmd.Stdout, cmd.Stderr = logw, logw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("emulator: start %s: %w", k, err)
	}
	e := &Emulator{Kind: k, Host: host, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(e.done) }()
	if err := e.waitReady(ctx, 90*time.Second); err != nil {
		e.Stop()
		return nil, err
	}
	return e, nil
}

func (e *Emulator) waitReady(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if Ready(e.Host, client) {
			return nil
		}
		select {
		case <-e.done:
			return fmt.Errorf("emulator: %s exited before it was ready (see its log)", e.Kind)
		case <-ctx.Done():
			return fmt.Errorf("emulator: %s not ready on %s: %w", e.Kind, e.Host, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Ready reports whether an emulator answers on host (both answer "Ok" on /).
func Ready(host string, client *http.Client) bool {
	resp, err := client.Get("http://" + host + "/")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	return resp.StatusCode == http.StatusOK && strings.TrimSpace(string(b)) == "Ok"
}

// Stop ends the emulator and its children: SIGTERM to the process group,
// then SIGKILL if it lingers.
func (e *Emulator) Stop() {
	if e == nil || e.cmd.Process == nil {
		return
	}
	pgid := e.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-e.done:
	case <-time.After(5 * time.Second):
	}
	// The Java child may outlive gcloud's Python wrapper: kill the group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	<-e.done
}

// Pid is the emulator's process (group) id.
func (e *Emulator) Pid() int { return e.cmd.Process.Pid }
