package config

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

const key32 = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

func settingsEnv() map[string]string {
	return map[string]string{
		"GOOGLE_CLOUD_PROJECT": "p", "TOKEN_KEY": key32, "SESSION_KEY": key32,
		"GOOGLE_CLIENT_ID": "id", "GOOGLE_CLIENT_SECRET": "s",
		"PUBLIC_URL": "https://settings.example/", "INTAKE_URL": "https://intake.example/",
	}
}

func TestLoadSettings(t *testing.T) {
	tests := []struct {
		name    string
		change  map[string]string
		drop    string
		wantErr string
	}{
		{name: "complete"},
		{name: "missing project", drop: "GOOGLE_CLOUD_PROJECT", wantErr: "GOOGLE_CLOUD_PROJECT"},
		{name: "missing client id", drop: "GOOGLE_CLIENT_ID", wantErr: "GOOGLE_CLIENT_ID"},
		{name: "no key at all", drop: "TOKEN_KEY", wantErr: "KMS_KEY"},
		{name: "both keys", change: map[string]string{"KMS_KEY": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}, wantErr: "only one"},
		{name: "short token key", change: map[string]string{"TOKEN_KEY": "AAAA"}, wantErr: "TOKEN_KEY"},
		{name: "relative public url", change: map[string]string{"PUBLIC_URL": "/settings"}, wantErr: "PUBLIC_URL"},
		{name: "short session key", change: map[string]string{"SESSION_KEY": "AAAA"}, wantErr: "SESSION_KEY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := settingsEnv()
			delete(env, tt.drop)
			for k, v := range tt.change {
				env[k] = v
			}
			var cfg Settings
			err := Load(context.Background(), &cfg, Map(env))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Changes != "changes" || cfg.DatabaseID != "(default)" || cfg.OAuthURL != "https://oauth.pipedrive.com" {
					t.Errorf("defaults not applied: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
			}
		})
	}
}

func TestLoadOthers(t *testing.T) {
	var in Intake
	err := Load(context.Background(), &in, Map(map[string]string{"GOOGLE_CLOUD_PROJECT": "p", "MAX_BODY_BYTES": "0"}))
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("zero body limit: %v", err)
	}
	var p Poll
	env := settingsEnv()
	env["POLL_INTERVAL"] = "5s"
	if err := Load(context.Background(), &p, Map(env)); err != nil || p.PollInterval.String() != "5s" {
		t.Errorf("poll: %+v, %v", p, err)
	}
	env["SAFETY_NET_INTERVAL"] = "10s"
	var p2 Poll // Load does not overwrite fields already set
	if err := Load(context.Background(), &p2, Map(env)); !errors.Is(err, ErrInvalid) {
		t.Errorf("10s safety net accepted: %v", err)
	}
	var a Apply
	if err := Load(context.Background(), &a, envconfig.MapLookuper(map[string]string{})); err == nil || !strings.Contains(err.Error(), "GOOGLE_CLOUD_PROJECT") {
		t.Errorf("empty env: %v", err)
	}
}

// TestReadmeConfigurationTable keeps the README's table in step with the
// code: every variable any function reads has a row with its default.
func TestReadmeConfigurationTable(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{} // name -> default cell
	row := regexp.MustCompile("(?m)^\\| `([A-Z_]+)`[^|]*\\| ([^|]*) \\|")
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		rows[m[1]] = strings.TrimSpace(m[2])
	}
	for fn, cfg := range All() {
		for _, v := range Vars(cfg) {
			def, ok := rows[v.Name]
			if !ok {
				t.Errorf("README has no row for %s (read by %s)", v.Name, fn)
				continue
			}
			switch {
			case v.Required && def != "(required)":
				t.Errorf("README: %s is required, row says %q", v.Name, def)
			case v.Default != "" && def != "`"+v.Default+"`":
				t.Errorf("README: %s defaults to %q, row says %q", v.Name, v.Default, def)
			}
		}
	}
}
