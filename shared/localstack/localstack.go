// Package localstack runs the whole system on loopback: the Firestore and
// Pub/Sub emulators, the push subscriptions production uses, the four
// functions served by functions-framework-go (one process each, selected by
// FUNCTION_TARGET exactly as in Cloud Functions), and a ticker standing in
// for Cloud Scheduler. scripts/dev and the end-to-end tests both use it.
package localstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/google/googlefake"
	"github.com/contactsync/contactsync/shared/pipedrive/pipedrivefake"
	"github.com/contactsync/contactsync/shared/queue"
)

// Options configure a stack.
type Options struct {
	// Root is the repository root (where go.mod is).
	Root string
	// Dir holds the stack's files: endpoints.json, logs, the built binary.
	Dir string
	// Project is the Google Cloud project id used on the emulators.
	Project string
	// PollInterval is the local scheduler's period (POLL_INTERVAL).
	PollInterval time.Duration
	// Log receives the stack's own progress lines.
	Log *slog.Logger
	// Env adds or overrides environment variables of the functions.
	Env map[string]string
	// NoDemo starts without the demo connection (scripts/dev --no-demo).
	NoDemo bool
	// Seed fills the sandbox accounts before anyone connects them
	// (scripts/dev --seed N,M); it needs NoDemo.
	Seed Seed
	// GoogleSchemaErrors, when set, receives every Google fake response
	// that does not match the People API discovery document (tests use it
	// so the fidelity check covers the end-to-end suites too).
	GoogleSchemaErrors func(error)
	// FirestoreHost and PubSubHost, when set, reuse running emulators
	// instead of starting new ones (tests do this, each with its own
	// random Project so nothing is shared).
	FirestoreHost, PubSubHost string
}

// Endpoints is the contract written to endpoints.json (SPEC section 6).
type Endpoints struct {
	Settings  string `json:"settings"`
	Intake    string `json:"intake"`
	Poll      string `json:"poll"`
	Applier   string `json:"applier"`
	Google    string `json:"google"`
	Pipedrive string `json:"pipedrive"`
	Firestore string `json:"firestore"`
	PubSub    string `json:"pubsub"`
	Demo      *Demo  `json:"demo,omitempty"`
}

// Sandbox OAuth clients the functions use against the fakes.
const (
	SandboxGoogleClientID        = "contactsync-sandbox.apps.googleusercontent.com"
	SandboxGoogleClientSecret    = "sandbox-google-secret"
	SandboxPipedriveClientID     = "contactsync-sandbox"
	SandboxPipedriveClientSecret = "sandbox-pipedrive-secret"
)

// Functions in start order, with the endpoint each fills.
var functionNames = []string{"Settings", "Intake", "Poll", "Apply"}

// Stack is a running local system.
type Stack struct {
	Endpoints Endpoints
	// Google and Pipedrive are the sandbox fakes, served on loopback at
	// Endpoints.Google and Endpoints.Pipedrive; tests drive them directly.
	Google    *googlefake.Server
	Pipedrive *pipedrivefake.Server
	// Seeded is what Options.Seed put in the sandbox accounts (nil
	// without a seed).
	Seeded  *Seeded
	servers []*http.Server
	// subscribed: our push subscriptions exist (removed on Stop when the
	// emulator is shared).
	subscribed bool
	// tokenKey and sessionKey are generated per run; the emulators keep no
	// data across runs, so nothing sealed with an old key survives.
	tokenKey, sessionKey string
	opts                 Options
	emulators            []*emulator.Emulator
	// bin and env start a function's process; funcs are the functions
	// in start order (mu guards their processes).
	bin      string
	env      []string
	mu       sync.Mutex
	funcs    []*function
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	logFiles []*os.File
}

// Start brings the stack up and returns once every part answers.
func Start(ctx context.Context, o Options) (_ *Stack, err error) {
	if o.Project == "" {
		o.Project = "contactsync-dev"
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if !o.Seed.Empty() && !o.NoDemo {
		return nil, errSeedWithDemo
	}
	if err := os.MkdirAll(filepath.Join(o.Dir, "logs"), 0o755); err != nil {
		return nil, fmt.Errorf("localstack: %w", err)
	}
	if o.FirestoreHost == "" || o.PubSubHost == "" {
		if err := emulator.Check(emulator.Firestore, emulator.PubSub); err != nil {
			return nil, err
		}
	}
	s := &Stack{opts: o, tokenKey: randomKey(), sessionKey: randomKey()}
	if k := o.Env["TOKEN_KEY"]; k != "" {
		// The demo connection is sealed here, in the stack's process: with
		// the key the functions open it with, or its first sync never runs.
		s.tokenKey = k
	}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()

	if err := s.startEmulators(ctx); err != nil {
		return nil, err
	}
	// The stack's own process (demo connection, tests) uses the same emulators.
	os.Setenv("FIRESTORE_EMULATOR_HOST", s.Endpoints.Firestore)
	os.Setenv("PUBSUB_EMULATOR_HOST", s.Endpoints.PubSub)

	if err := s.startFakes(); err != nil {
		return nil, err
	}

	bin := filepath.Join(o.Dir, "bin", "functions")
	o.Log.Info("building functions")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./functions/serve")
	build.Dir = o.Root
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("localstack: build functions: %w\n%s", err, out)
	}

	ports := map[string]int{}
	urls := map[string]string{}
	for _, name := range functionNames {
		p, err := emulator.FreePort()
		if err != nil {
			return nil, err
		}
		ports[name] = p
		urls[name] = "http://127.0.0.1:" + strconv.Itoa(p)
	}
	s.Endpoints.Settings, s.Endpoints.Intake = urls["Settings"]+"/", urls["Intake"]+"/"
	s.Endpoints.Poll, s.Endpoints.Applier = urls["Poll"]+"/", urls["Apply"]+"/"

	s.bin, s.env = bin, s.functionEnv(urls)
	for _, name := range functionNames {
		w, err := s.logFile(name + ".log")
		if err != nil {
			return nil, err
		}
		f := &function{name: name, port: ports[name], log: w}
		s.funcs = append(s.funcs, f)
		if err := s.startFunction(f); err != nil {
			return nil, err
		}
	}
	for _, name := range functionNames {
		if err := waitHTTP(ctx, urls[name], 30*time.Second); err != nil {
			return nil, fmt.Errorf("localstack: function %s: %w (see %s)", name, err, filepath.Join(o.Dir, "logs", name+".log"))
		}
	}

	// The same subscriptions as production, pushing to the local functions.
	ps, err := pubsub.NewClient(ctx, o.Project, emulatorOption(s.Endpoints.PubSub)...)
	if err != nil {
		return nil, fmt.Errorf("localstack: pubsub: %w", err)
	}
	err = queue.Ensure(ctx, ps, urls)
	ps.Close()
	s.subscribed = true
	if err != nil {
		return nil, err
	}

	// The sandbox accounts always exist (a newcomer signs in with them);
	// --no-demo only skips the ready-made connection between them.
	demo, err := s.seedSandbox()
	if err != nil {
		return nil, err
	}
	s.Endpoints.Demo = demo
	if !o.Seed.Empty() {
		if s.Seeded, err = seedBooks(s.Google, s.Pipedrive, demo, o.Seed); err != nil {
			return nil, err
		}
		// Counts only: the seeded names are made up, but logs carry none.
		o.Log.Info("sandbox seeded", "pipedrive_persons", o.Seed.Persons, "google_contacts", o.Seed.Contacts,
			"on_both_sides", s.Seeded.Overlap, "organizations", s.Seeded.Organizations)
	}
	if !o.NoDemo {
		if err := s.connectDemo(ctx, demo, urls["Intake"]+"/"); err != nil {
			return nil, err
		}
	}

	tctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go s.tick(tctx, urls["Poll"]+queue.PollTickPath)

	if err := s.writeEndpoints(); err != nil {
		return nil, err
	}
	return s, nil
}

// startFakes serves the sandbox Google and Pipedrive on loopback.
func (s *Stack) startFakes() error {
	s.Google = googlefake.New(googlefake.WithLogger(s.opts.Log))
	s.Pipedrive = pipedrivefake.New(pipedrivefake.WithLogger(s.opts.Log),
		pipedrivefake.WithOAuthClient(SandboxPipedriveClientID, SandboxPipedriveClientSecret))
	var err error
	var google http.Handler = s.Google
	if report := s.opts.GoogleSchemaErrors; report != nil {
		sch, err := googlefake.LoadSchemas()
		if err != nil {
			return fmt.Errorf("localstack: %w", err)
		}
		google = googlefake.ValidatingHandler(s.Google, sch, report)
	}
	if s.Endpoints.Google, err = s.serve(google); err != nil {
		return err
	}
	if s.Endpoints.Pipedrive, err = s.serve(s.Pipedrive); err != nil {
		return err
	}
	s.Pipedrive.SetBaseURL(s.Endpoints.Pipedrive)
	s.opts.Log.Info("sandbox fakes ready", "google", s.Endpoints.Google, "pipedrive", s.Endpoints.Pipedrive)
	return nil
}

func (s *Stack) serve(h http.Handler) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("localstack: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), nil
}

// startEmulators starts whichever emulators are not reused, in parallel
// (each takes seconds of JVM start-up).
func (s *Stack) startEmulators(ctx context.Context) error {
	s.Endpoints.Firestore, s.Endpoints.PubSub = s.opts.FirestoreHost, s.opts.PubSubHost
	type result struct {
		e   *emulator.Emulator
		err error
	}
	var kinds []emulator.Kind
	if s.Endpoints.Firestore == "" {
		kinds = append(kinds, emulator.Firestore)
	}
	if s.Endpoints.PubSub == "" {
		kinds = append(kinds, emulator.PubSub)
	}
	results := make([]result, len(kinds))
	var wg sync.WaitGroup
	for i, k := range kinds {
		w, err := s.logFile(string(k) + "-emulator.log")
		if err != nil {
			return err
		}
		s.opts.Log.Info("starting emulator", "kind", k)
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := emulator.Start(ctx, k, s.opts.Project, w)
			results[i] = result{e, err}
		}()
	}
	wg.Wait()
	var errs []error
	for i, r := range results {
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		s.emulators = append(s.emulators, r.e)
		if kinds[i] == emulator.Firestore {
			s.Endpoints.Firestore = r.e.Host
		} else {
			s.Endpoints.PubSub = r.e.Host
		}
	}
	return errors.Join(errs...)
}

// functionEnv is the configuration every function process gets.
func (s *Stack) functionEnv(urls map[string]string) []string {
	m := map[string]string{
		"GOOGLE_CLOUD_PROJECT":    s.opts.Project,
		"FIRESTORE_EMULATOR_HOST": s.Endpoints.Firestore,
		"PUBSUB_EMULATOR_HOST":    s.Endpoints.PubSub,
		"TOKEN_KEY":               s.tokenKey,
		"SESSION_KEY":             s.sessionKey,
		"PUBLIC_URL":              urls["Settings"] + "/",
		"INTAKE_URL":              urls["Intake"] + "/",
		"POLL_INTERVAL":           s.opts.PollInterval.String(),
		"GOOGLE_CLIENT_ID":        SandboxGoogleClientID,
		"GOOGLE_CLIENT_SECRET":    SandboxGoogleClientSecret,
		"GOOGLE_BASE_URL":         s.Endpoints.Google,
		"PIPEDRIVE_CLIENT_ID":     SandboxPipedriveClientID,
		"PIPEDRIVE_CLIENT_SECRET": SandboxPipedriveClientSecret,
		"PIPEDRIVE_OAUTH_URL":     s.Endpoints.Pipedrive,
		"PIPEDRIVE_API_URL":       s.Endpoints.Pipedrive,
		"HOST":                    "127.0.0.1",
	}
	for k, v := range s.opts.Env {
		m[k] = v
	}
	env := os.Environ()
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	return env
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func (s *Stack) logFile(name string) (*os.File, error) {
	f, err := os.Create(filepath.Join(s.opts.Dir, "logs", name))
	if err != nil {
		return nil, fmt.Errorf("localstack: %w", err)
	}
	s.logFiles = append(s.logFiles, f)
	return f, nil
}

// function is one function's process, serving on port and logging to log
// (kept open across restarts, so a restarted function's lines follow its
// predecessor's).
type function struct {
	name string
	port int
	log  *os.File
	cmd  *exec.Cmd     // nil while not running
	done chan struct{} // closed once cmd has exited
}

func (f *function) url() string { return "http://127.0.0.1:" + strconv.Itoa(f.port) + "/" }

func (s *Stack) startFunction(f *function) error {
	cmd := exec.Command(s.bin)
	cmd.Env = append(slices.Clip(s.env), "FUNCTION_TARGET="+f.name, "PORT="+strconv.Itoa(f.port))
	cmd.Stdout, cmd.Stderr = f.log, f.log
	// Own process group (a terminal's Ctrl-C reaches only the stack, which
	// then stops everything in order); killed if the stack dies abruptly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("localstack: start %s: %w", f.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	f.cmd, f.done = cmd, done
	s.opts.Log.Info("function started", "name", f.name, "url", f.url())
	return nil
}

// stopFunction ends f's process: SIGTERM, then SIGKILL after grace (at
// once if grace is 0). Callers hold s.mu.
func (s *Stack) stopFunction(f *function, grace time.Duration) {
	if f.cmd == nil {
		return
	}
	sig := syscall.SIGTERM
	if grace == 0 {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-f.cmd.Process.Pid, sig)
	select {
	case <-f.done:
	case <-time.After(grace):
		_ = syscall.Kill(-f.cmd.Process.Pid, syscall.SIGKILL)
		<-f.done
	}
	f.cmd, f.done = nil, nil
}

func (s *Stack) function(name string) (*function, error) {
	for _, f := range s.funcs {
		if f.name == name {
			return f, nil
		}
	}
	return nil, fmt.Errorf("localstack: no function %q (there are %v)", name, functionNames)
}

// KillFunction kills one function's process at once (SIGKILL), as a crash
// or a lost instance would: its requests in flight fail and its URL
// refuses connections until StartFunction. Pub/Sub keeps the messages it
// could not push and retries them.
func (s *Stack) KillFunction(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return err
	}
	if f.cmd == nil {
		return fmt.Errorf("localstack: function %s is not running", name)
	}
	s.stopFunction(f, 0)
	s.opts.Log.Info("function killed", "name", name)
	return nil
}

// StartFunction starts a function KillFunction killed, on the same URL,
// and returns once it accepts connections.
func (s *Stack) StartFunction(ctx context.Context, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.function(name)
	if err != nil {
		return err
	}
	if f.cmd != nil {
		return fmt.Errorf("localstack: function %s is running", name)
	}
	if err := s.startFunction(f); err != nil {
		return err
	}
	return waitHTTP(ctx, strings.TrimSuffix(f.url(), "/"), 30*time.Second)
}

// waitHTTP waits until url's server accepts connections. It only dials:
// a request would reach the function and be logged as a bad event.
func waitHTTP(ctx context.Context, url string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	host := strings.TrimPrefix(url, "http://")
	for {
		if conn, err := net.DialTimeout("tcp", host, time.Second); err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not answering on %s: %w", url, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tick stands in for Cloud Scheduler: POST /tick every PollInterval.
func (s *Stack) tick(ctx context.Context, url string) {
	defer s.wg.Done()
	t := time.NewTicker(s.opts.PollInterval)
	defer t.Stop()
	c := &http.Client{Timeout: 30 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
			resp, err := c.Do(req)
			if err != nil {
				if ctx.Err() == nil {
					s.opts.Log.Warn("scheduler tick failed", "err", err)
				}
				continue
			}
			resp.Body.Close()
			if resp.StatusCode >= 300 {
				s.opts.Log.Warn("scheduler tick answered", "status", resp.StatusCode)
			}
		}
	}
}

// EndpointsPath is where endpoints.json is written.
func (s *Stack) EndpointsPath() string { return filepath.Join(s.opts.Dir, "endpoints.json") }

func (s *Stack) writeEndpoints() error {
	b, err := json.MarshalIndent(s.Endpoints, "", "  ")
	if err != nil {
		return err
	}
	// Write then rename, so a reader never sees half a file.
	tmp := s.EndpointsPath() + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("localstack: %w", err)
	}
	return os.Rename(tmp, s.EndpointsPath())
}

// Stop stops everything Start started, in reverse order, and removes
// endpoints.json. It is safe to call more than once.
func (s *Stack) Stop() {
	_ = os.Remove(s.EndpointsPath())
	if s.subscribed && len(s.emulators) == 0 {
		// A shared emulator outlives us: it must not push to our
		// functions once they are gone.
		s.subscribed = false
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if ps, err := pubsub.NewClient(ctx, s.opts.Project, emulatorOption(s.Endpoints.PubSub)...); err == nil {
			_ = queue.Remove(ctx, ps)
			ps.Close()
		}
		cancel()
	}
	if s.cancel != nil {
		s.cancel()
		s.wg.Wait()
		s.cancel = nil
	}
	s.mu.Lock()
	for _, f := range s.funcs {
		s.stopFunction(f, 5*time.Second)
	}
	s.funcs = nil
	s.mu.Unlock()
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	s.servers = nil
	if s.Pipedrive != nil {
		s.Pipedrive.Close()
	}
	for i := len(s.emulators) - 1; i >= 0; i-- {
		s.emulators[i].Stop()
	}
	s.emulators = nil
	for _, f := range s.logFiles {
		_ = f.Close()
	}
	s.logFiles = nil
}

// Pids lists the process (group) ids the stack started, for tests that
// check nothing survives Stop.
func (s *Stack) Pids() []int {
	var out []int
	s.mu.Lock()
	for _, f := range s.funcs {
		if f.cmd != nil {
			out = append(out, f.cmd.Process.Pid)
		}
	}
	s.mu.Unlock()
	for _, e := range s.emulators {
		out = append(out, e.Pid())
	}
	return out
}

// emulatorOption points a Google client at an emulator without touching
// the process environment (tests run several stacks' clients side by side).
func emulatorOption(host string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(host),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}
