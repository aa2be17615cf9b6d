// Package config loads each function's settings from the environment.
//
// Every function has one struct here; the struct tags are the single list of
// environment variables the code reads, which the Terraform drift test and the
// README's configuration table are checked against.
package config

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"
)

// ErrInvalid marks a configuration that was read but does not make sense.
var ErrInvalid = errors.New("invalid configuration")

// Project names the Google Cloud project and the Firestore database.
type Project struct {
	ProjectID  string `env:"GOOGLE_CLOUD_PROJECT, required"`
	DatabaseID string `env:"FIRESTORE_DATABASE, default=(default)"`
}

// Topics names the Pub/Sub topics (short ids, not full resource names).
type Topics struct {
	Changes   string `env:"CHANGES_TOPIC, default=changes"`
	Polls     string `env:"POLLS_TOPIC, default=polls"`
	FirstSync string `env:"FIRST_SYNC_TOPIC, default=first-sync"`
}

// Crypto selects how refresh tokens and webhook credentials are sealed at
// rest: a Cloud KMS key in production, or a local AES-256 key (base64) in the
// sandbox and tests. Exactly one must be set.
type Crypto struct {
	KMSKey   string `env:"KMS_KEY"`
	LocalKey string `env:"TOKEN_KEY"`
}

func (c Crypto) validate() error {
	switch {
	case c.KMSKey == "" && c.LocalKey == "":
		return fmt.Errorf("%w: set KMS_KEY (a Cloud KMS crypto key name) or TOKEN_KEY (base64 of 32 random bytes)", ErrInvalid)
	case c.KMSKey != "" && c.LocalKey != "":
		return fmt.Errorf("%w: KMS_KEY and TOKEN_KEY are both set; set only one", ErrInvalid)
	case c.LocalKey != "":
		k, err := base64.StdEncoding.DecodeString(c.LocalKey)
		if err != nil || len(k) != 32 {
			return fmt.Errorf("%w: TOKEN_KEY must be base64 of exactly 32 bytes", ErrInvalid)
		}
	}
	return nil
}

// Google holds the OAuth client and where Google's services are. BaseURL
// empty means the real services; set, it points every Google endpoint
// (/o/oauth2/v2/auth, /token, /revoke, /v1/...) at one base, as the sandbox
// fake serves them.
type Google struct {
	ClientID     string `env:"GOOGLE_CLIENT_ID, required"`
	ClientSecret string `env:"GOOGLE_CLIENT_SECRET, required"`
	BaseURL      string `env:"GOOGLE_BASE_URL"`
}

// Pipedrive holds the OAuth app (optional: an install may use API tokens
// only) and the OAuth server's base URL.
type Pipedrive struct {
	ClientID     string `env:"PIPEDRIVE_CLIENT_ID"`
	ClientSecret string `env:"PIPEDRIVE_CLIENT_SECRET"`
	OAuthURL     string `env:"PIPEDRIVE_OAUTH_URL, default=https://oauth.pipedrive.com"`
}

// Settings configures the OAuth/settings HTTP function.
type Settings struct {
	Project
	Topics
	Crypto
	Google
	Pipedrive
	// PublicURL is this function's own public base URL; OAuth redirect URIs
	// are built from it.
	PublicURL string `env:"PUBLIC_URL, required"`
	// IntakeURL is the webhook intake function's URL given to Pipedrive.
	IntakeURL string `env:"INTAKE_URL, required"`
	// SessionKey signs the browser session cookie (base64, ≥32 bytes).
	SessionKey string `env:"SESSION_KEY, required"`
	// PipedriveAPIURL is where connections made with an API token call
	// Pipedrive (OAuth connections use the token's api_domain).
	PipedriveAPIURL string `env:"PIPEDRIVE_API_URL, default=https://api.pipedrive.com"`
}

// Intake configures the Pipedrive webhook intake function.
type Intake struct {
	Project
	Topics
	MaxBodyBytes int64 `env:"MAX_BODY_BYTES, default=1048576"`
}

// Poll configures the scheduler-triggered poll function.
type Poll struct {
	Project
	Topics
	Crypto
	Google
	Pipedrive
	IntakeURL string `env:"INTAKE_URL, required"`
	// PollInterval is the scheduler's period: a polled connection is due
	// again after it.
	PollInterval time.Duration `env:"POLL_INTERVAL, default=1m"`
	// SafetyNetInterval is how often Pipedrive is listed with updated_since
	// to catch changes whose webhook was lost.
	SafetyNetInterval time.Duration `env:"SAFETY_NET_INTERVAL, default=10m"`
}

// Apply configures the Pub/Sub-triggered applier.
type Apply struct {
	Project
	Topics
	Crypto
	Google
	Pipedrive
	// PhoneRegion (ISO 3166-1 alpha-2) is the country assumed for phone
	// numbers typed without a country code when they are compared; empty,
	// such numbers compare by their digits.
	PhoneRegion string `env:"DEFAULT_PHONE_REGION"`
	// PipedriveDailyBase is Pipedrive's daily token budget per seat on a
	// plan of multiplier 1 (documented: 30,000); a first sync spends at
	// most its share of the company's budget in a day.
	PipedriveDailyBase int `env:"PIPEDRIVE_DAILY_BASE, default=30000"`
}

type validator interface{ validate() error }

func (s *Settings) validate() error {
	if err := s.Crypto.validate(); err != nil {
		return err
	}
	for name, v := range map[string]string{"PUBLIC_URL": s.PublicURL, "INTAKE_URL": s.IntakeURL, "PIPEDRIVE_API_URL": s.PipedriveAPIURL} {
		if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
			return fmt.Errorf("%w: %s must be an absolute URL, got %q", ErrInvalid, name, v)
		}
	}
	if k, err := base64.StdEncoding.DecodeString(s.SessionKey); err != nil || len(k) < 32 {
		return fmt.Errorf("%w: SESSION_KEY must be base64 of at least 32 bytes", ErrInvalid)
	}
	return nil
}

func (i *Intake) validate() error {
	if i.MaxBodyBytes <= 0 {
		return fmt.Errorf("%w: MAX_BODY_BYTES must be positive", ErrInvalid)
	}
	return nil
}

func (p *Poll) validate() error {
	if p.PollInterval < time.Second {
		return fmt.Errorf("%w: POLL_INTERVAL must be at least 1s", ErrInvalid)
	}
	if p.SafetyNetInterval < time.Minute {
		return fmt.Errorf("%w: SAFETY_NET_INTERVAL must be at least 1m", ErrInvalid)
	}
	return p.Crypto.validate()
}

func (a *Apply) validate() error {
	if r := a.PhoneRegion; r != "" && (len(r) != 2 || strings.ToUpper(r) != r) {
		return fmt.Errorf("%w: DEFAULT_PHONE_REGION must be a two-letter upper-case country code such as DE, got %q", ErrInvalid, r)
	}
	return a.Crypto.validate()
}

// Config is any of the per-function structs.
type Config interface {
	*Settings | *Intake | *Poll | *Apply
}

// Load fills cfg from lookup (nil means the process environment) and
// validates it. Errors name the variable at fault.
func Load[T Config](ctx context.Context, cfg T, lookup envconfig.Lookuper) error {
	if lookup == nil {
		lookup = envconfig.OsLookuper()
	}
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: cfg, Lookuper: lookup}); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if v, ok := any(cfg).(validator); ok {
		if err := v.validate(); err != nil {
			return fmt.Errorf("config: %w", err)
		}
	}
	return nil
}

// Map returns a lookup over m, for tests and the local stack.
func Map(m map[string]string) envconfig.Lookuper { return envconfig.MapLookuper(m) }
