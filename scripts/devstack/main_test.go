package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/contactsync/contactsync/shared/emulator"
	"github.com/contactsync/contactsync/shared/emulator/emulatortest"
)

// TestDevScriptStartsAndStopsCleanly runs scripts/dev as a user would: it
// waits for endpoints.json, checks the printed "name: URL" lines match it,
// sends SIGINT, and asserts that every process the stack started (functions,
// emulators and their Java children) is gone and endpoints.json removed.
func TestDevScriptStartsAndStopsCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole stack")
	}
	// scripts/dev starts its own emulators; require them to be installed
	// under the same rule as the other emulator tests.
	emulatortest.Require(t, emulator.Firestore)
	root, _ := filepath.Abs("../..")
	dir := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "dev"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DEV_DIR="+dir, "POLL_INTERVAL=1s")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	printed := map[string]string{}
	deadline := time.After(4 * time.Minute)
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("scripts/dev exited early; stderr:\n%s", stderr.String())
			}
			if strings.HasPrefix(l, "ready;") {
				break wait
			}
			if k, v, ok := strings.Cut(l, ": "); ok {
				printed[k] = v
			}
		case <-deadline:
			t.Fatalf("scripts/dev not ready; stderr:\n%s", stderr.String())
		}
	}

	var eps map[string]any
	b, err := os.ReadFile(filepath.Join(dir, "endpoints.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &eps); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"settings", "intake", "poll", "applier", "google", "pipedrive", "firestore", "pubsub"} {
		if eps[k] == nil || eps[k] != printed[k] {
			t.Errorf("%s: printed %q, endpoints.json %v", k, printed[k], eps[k])
		}
	}

	started := descendants(cmd.Process.Pid)
	if len(started) < 6 { // 4 functions + 2 emulators at least
		t.Fatalf("only %d processes under the stack: %v", len(started), started)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("scripts/dev exited with %v after SIGINT; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatal("scripts/dev did not stop within 60 s of SIGINT")
	}
	// A process may still be in the middle of exiting: allow a moment.
	grace := time.Now().Add(5 * time.Second)
	for _, pid := range started {
		for alive(pid) && time.Now().Before(grace) {
			time.Sleep(100 * time.Millisecond)
		}
		if alive(pid) {
			t.Errorf("process %d (%s) survived SIGINT", pid, cmdline(pid))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "endpoints.json")); !os.IsNotExist(err) {
		t.Errorf("endpoints.json not removed on stop")
	}
}

// descendants lists every process below pid, read from /proc.
func descendants(pid int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp := ppid(p); pp > 0 {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func stat(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	// The command name is in parentheses and may hold spaces.
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:]) // [state ppid pgrp ...]
}

func ppid(pid int) int {
	f := stat(pid)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

func alive(pid int) bool {
	f := stat(pid)
	// Z (zombie) and X (dead) have exited; only reaping is left.
	return f != nil && f[0] != "Z" && f[0] != "X"
}

func cmdline(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	c, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
	return strings.TrimSpace(string(c)) + ": " + strings.ReplaceAll(string(b), "\x00", " ") + " state " + strings.Join(stat(pid), " ")
}

// TestDevScriptSaysWhatIsMissing runs scripts/dev on a PATH with Go and the
// shell tools but without gcloud and Java: it must exit non-zero and say
// what to install.
func TestDevScriptSaysWhatIsMissing(t *testing.T) {
	root, _ := filepath.Abs("../..")
	bin := t.TempDir()
	for _, tool := range []string{"go", "bash", "dirname", "mkdir", "env"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s not found: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(filepath.Join(bin, "bash"), filepath.Join(root, "scripts", "dev"))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "PATH="+bin, "DEV_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("scripts/dev without gcloud: err %v, output:\n%s", err, out)
	}
	for _, want := range []string{"gcloud is not on PATH", "google-cloud-cli", "java is not on PATH"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output does not say %q:\n%s", want, out)
		}
	}
}

// TestDevScriptSeedFlag: --seed is read before anything starts; a bad
// value, or a seed with the demo connection (which would sync the seeded
// accounts while the stack starts), stops scripts/dev at once with exit 2
// and what to type instead.
func TestDevScriptSeedFlag(t *testing.T) {
	root, _ := filepath.Abs("../..")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--seed", "1000,1000"}, "add --no-demo"},
		{[]string{"--no-demo", "--seed", "1000"}, "want N,M"},
	} {
		cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts", "dev")}, tc.args...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "DEV_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("scripts/dev %v: %v, output:\n%s\nwant exit 2 and %q", tc.args, err, out, tc.want)
		}
	}
}

func TestParseSeedFlag(t *testing.T) {
	if s, err := parseSeed("", false); err != nil || !s.Empty() {
		t.Errorf("no --seed: %+v, %v", s, err)
	}
	if s, err := parseSeed("0,0", false); err != nil || !s.Empty() {
		t.Errorf("--seed 0,0 with the demo: %+v, %v; an empty seed needs no --no-demo", s, err)
	}
	if s, err := parseSeed("60,40", true); err != nil || s.Persons != 60 || s.Contacts != 40 {
		t.Errorf("--no-demo --seed 60,40: %+v, %v", s, err)
	}
	if _, err := parseSeed("60,40", false); err == nil {
		t.Error("--seed 60,40 with the demo connection: no error")
	}
}
