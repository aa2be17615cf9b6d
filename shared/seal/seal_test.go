package seal

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"testing"
)

func newKey(t *testing.T) string {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(k)
}

func TestLocalRoundTripAndBinding(t *testing.T) {
	ctx := context.Background()
	l, err := NewLocal(newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewLocal(newKey(t))
	secret := []byte("1//0refresh-token")
	sealed, err := l.Seal(ctx, secret, AAD("c1", "google"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed value contains the secret in clear")
	}
	again, _ := l.Seal(ctx, secret, AAD("c1", "google"))
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of the same value are identical (nonce reuse)")
	}
	got, err := l.Open(ctx, sealed, AAD("c1", "google"))
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"other connection": func() ([]byte, error) { return l.Open(ctx, sealed, AAD("c2", "google")) },
		"other purpose":    func() ([]byte, error) { return l.Open(ctx, sealed, AAD("c1", "pipedrive")) },
		"other key":        func() ([]byte, error) { return other.Open(ctx, sealed, AAD("c1", "google")) },
		"tampered":         func() ([]byte, error) { return l.Open(ctx, tampered, AAD("c1", "google")) },
		"truncated":        func() ([]byte, error) { return l.Open(ctx, sealed[:5], AAD("c1", "google")) },
	} {
		if _, err := open(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: err = %v, want ErrOpen", name, err)
		}
	}
}

func TestNewLocalRejectsBadKeys(t *testing.T) {
	for _, k := range []string{"", "not base64!", base64.StdEncoding.EncodeToString(make([]byte, 16))} {
		if _, err := NewLocal(k); err == nil {
			t.Errorf("NewLocal(%q) accepted", k)
		}
	}
}
