// Package seal encrypts refresh tokens and webhook credentials before they
// reach Firestore: with Cloud KMS in production, with a local AES-256-GCM
// key in the sandbox and tests. Every sealed value is bound to its
// connection and purpose (additional authenticated data), so a ciphertext
// copied to another document does not open.
package seal

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/crc32"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ErrOpen means a sealed value could not be opened (wrong key, wrong
// connection, or tampering).
var ErrOpen = errors.New("seal: cannot open sealed value")

// Sealer seals and opens small secrets.
type Sealer interface {
	Seal(ctx context.Context, plaintext []byte, aad string) ([]byte, error)
	Open(ctx context.Context, sealed []byte, aad string) ([]byte, error)
}

// AAD names what a value is, e.g. AAD("conn123", "google").
func AAD(connID, name string) string { return "contactsync/" + connID + "/" + name }

// Local seals with AES-256-GCM under a key held in the environment.
type Local struct{ aead cipher.AEAD }

var _ Sealer = (*Local)(nil)

// NewLocal takes the base64 of a 32-byte key.
func NewLocal(b64key string) (*Local, error) {
	key, err := base64.StdEncoding.DecodeString(b64key)
	if err != nil || len(key) != 32 {
		return nil, errors.New("seal.NewLocal: key must be base64 of 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("seal.NewLocal: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("seal.NewLocal: %w", err)
	}
	return &Local{aead: aead}, nil
}

// Seal returns nonce||ciphertext.
func (l *Local) Seal(_ context.Context, plaintext []byte, aad string) ([]byte, error) {
	nonce := make([]byte, l.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: nonce: %w", err)
	}
	return l.aead.Seal(nonce, nonce, plaintext, []byte(aad)), nil
}

// Open reverses Seal.
func (l *Local) Open(_ context.Context, sealed []byte, aad string) ([]byte, error) {
	n := l.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrOpen
	}
	pt, err := l.aead.Open(nil, sealed[:n], sealed[n:], []byte(aad))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// KMS seals with a Cloud KMS symmetric key (tokens are far below KMS's
// 64 KiB plaintext limit, so no envelope is needed).
type KMS struct {
	client *kms.KeyManagementClient
	key    string // projects/P/locations/L/keyRings/R/cryptoKeys/K
}

var _ Sealer = (*KMS)(nil)

// NewKMS opens a KMS client for key.
func NewKMS(ctx context.Context, key string) (*KMS, error) {
	c, err := kms.NewKeyManagementClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("seal.NewKMS: %w", err)
	}
	return &KMS{client: c, key: key}, nil
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) int64 { return int64(crc32.Checksum(b, crcTable)) }

// Seal encrypts with integrity checks in both directions, as Google's
// samples do.
func (k *KMS) Seal(ctx context.Context, plaintext []byte, aad string) ([]byte, error) {
	resp, err := k.client.Encrypt(ctx, &kmspb.EncryptRequest{
		Name: k.key, Plaintext: plaintext, AdditionalAuthenticatedData: []byte(aad),
		PlaintextCrc32C:                   wrapperspb.Int64(crc(plaintext)),
		AdditionalAuthenticatedDataCrc32C: wrapperspb.Int64(crc([]byte(aad))),
	})
	if err != nil {
		return nil, fmt.Errorf("seal: kms encrypt: %w", err)
	}
	if !resp.VerifiedPlaintextCrc32C || !resp.VerifiedAdditionalAuthenticatedDataCrc32C || resp.CiphertextCrc32C.GetValue() != crc(resp.Ciphertext) {
		return nil, errors.New("seal: kms encrypt: integrity check failed in transit")
	}
	return resp.Ciphertext, nil
}

// Open decrypts.
func (k *KMS) Open(ctx context.Context, sealed []byte, aad string) ([]byte, error) {
	resp, err := k.client.Decrypt(ctx, &kmspb.DecryptRequest{
		Name: k.key, Ciphertext: sealed, AdditionalAuthenticatedData: []byte(aad),
		CiphertextCrc32C:                  wrapperspb.Int64(crc(sealed)),
		AdditionalAuthenticatedDataCrc32C: wrapperspb.Int64(crc([]byte(aad))),
	})
	if err != nil {
		return nil, fmt.Errorf("seal: kms decrypt: %w", err)
	}
	if resp.PlaintextCrc32C.GetValue() != crc(resp.Plaintext) {
		return nil, errors.New("seal: kms decrypt: integrity check failed in transit")
	}
	return resp.Plaintext, nil
}

// FromConfig picks KMS when kmsKey is set, else the local key.
func FromConfig(ctx context.Context, kmsKey, localKey string) (Sealer, error) {
	if kmsKey != "" {
		return NewKMS(ctx, kmsKey)
	}
	return NewLocal(localKey)
}
