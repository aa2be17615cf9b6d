package functions_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/emulator"
)

// mainTemplate is what Cloud Functions' Go buildpack generates for a
// declarative function: a main that blank-imports the user's root package
// and starts functions-framework-go on PORT, serving FUNCTION_TARGET at "/".
const mainTemplate = `package main

import (
	"log"
	"net/http"
	"os"

	_ "github.com/contactsync/contactsync"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"
)

func main() {
	http.HandleFunc("/robots.txt", http.NotFound)
	http.HandleFunc("/favicon.ico", http.NotFound)
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	if err := funcframework.Start(port); err != nil {
		log.Fatalf("Function failed to start: %v\n", err)
	}
}
`

// TestBuildpackBuildsEveryFunction builds the repository the way the Go
// buildpack does — a separate main module that requires ours through a
// replace directive — and checks that each entry point is served at "/"
// (a 2xx or 4xx from our code, never the framework's 404 for an unknown
// target), while an unknown entry point fails to start.
func TestBuildpackBuildsEveryFunction(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(app, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.go", mainTemplate)
	// Our module's requirements and checksums come along, so the build
	// resolves exactly the versions this repository pins.
	ourMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	_, requires, _ := strings.Cut(string(ourMod), "\nrequire")
	write("go.mod", "module functions.local/app\n\ngo 1.26\n\nrequire github.com/contactsync/contactsync v0.0.0\n\nrequire"+requires+
		"\nreplace github.com/contactsync/contactsync => "+root+"\n")
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sum))
	goCmd := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = app
		// The generated module's graph is not ours: it may need modules
		// (e.g. go-textseg/v17 through hcl) that building our packages
		// never downloads, so a fresh module cache lacks them. The buildpack
		// downloads them too; the test uses whatever GOPROXY the caller has
		// (CI's fresh machine reaches the module proxy). go.sum pins them.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	bin := filepath.Join(app, "server")
	goCmd("build", "-o", bin, ".")

	tests := []struct {
		target string
		method string
		path   string
		body   string
		want   int
	}{
		{"Settings", http.MethodGet, "/healthz", "", http.StatusOK},
		{"Intake", http.MethodPost, "/", "{}", http.StatusUnauthorized},
		{"Poll", http.MethodGet, "/tick", "", http.StatusMethodNotAllowed},
		// Not a Pub/Sub push body: the framework's CloudEvent conversion refuses it.
		{"Apply", http.MethodPost, "/", `{"hello":1}`, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			base := start(t, bin, tt.target)
			req, _ := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s on %s = %d, want %d", tt.method, tt.path, tt.target, resp.StatusCode, tt.want)
			}
		})
	}

	t.Run("unknown target fails to start", func(t *testing.T) {
		port, _ := emulator.FreePort()
		cmd := exec.Command(bin)
		cmd.Env = append(testEnv(), "FUNCTION_TARGET=NoSuchFunction", fmt.Sprintf("PORT=%d", port))
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "NoSuchFunction") {
			t.Fatalf("server with an unknown target: err %v, output %s", err, out)
		}
	})
}

// testEnv is a complete configuration; the emulator hosts point nowhere
// because these requests are answered before any client is used.
func testEnv() []string {
	return append(os.Environ(),
		"GOOGLE_CLOUD_PROJECT=buildpack-test",
		"FIRESTORE_EMULATOR_HOST=127.0.0.1:9", "PUBSUB_EMULATOR_HOST=127.0.0.1:9",
		"TOKEN_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"SESSION_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
		"GOOGLE_CLIENT_ID=test", "GOOGLE_CLIENT_SECRET=test",
		"PUBLIC_URL=http://127.0.0.1:1/", "INTAKE_URL=http://127.0.0.1:2/",
	)
}

func start(t *testing.T, bin, target string) string {
	t.Helper()
	port, err := emulator.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(testEnv(), "FUNCTION_TARGET="+target, fmt.Sprintf("PORT=%d", port))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		if resp, err := http.Get(base + "/readiness-probe"); err == nil {
			resp.Body.Close()
			return base
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not start: %s", target, out.String())
	return ""
}
