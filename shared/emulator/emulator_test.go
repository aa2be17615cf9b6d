package emulator

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckNamesWhatToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // nothing on PATH
	err := Check(Firestore, PubSub)
	if !errors.Is(err, ErrMissing) {
		t.Fatalf("err = %v, want ErrMissing", err)
	}
	for _, want := range []string{"gcloud is not on PATH", "google-cloud-cli", "java is not on PATH", "openjdk"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message does not say %q:\n%v", want, err)
		}
	}
}

func TestCheckNamesMissingComponent(t *testing.T) {
	// A gcloud whose SDK root has no emulator components.
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	if err := os.MkdirAll(filepath.Join(root, "platform"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gcloud", "java"} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	err := Check(Firestore, PubSub)
	for _, want := range []string{"apt-get install google-cloud-cli-firestore-emulator", "apt-get install google-cloud-cli-pubsub-emulator"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("message does not say %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "java is not on PATH") {
		t.Errorf("java reported missing although present: %v", err)
	}
}
