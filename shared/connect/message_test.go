package connect

import (
	"fmt"
	"strings"
	"testing"

	"github.com/contactsync/contactsync/shared/pipedrive"
)

// TestMessageDailyBudget: the daily budget is told apart from a short
// slow-down, in plain words.
func TestMessageDailyBudget(t *testing.T) {
	if msg := Message(fmt.Errorf("save: %w", pipedrive.ErrRateLimited)); !strings.Contains(msg, "slow down") {
		t.Errorf("burst 429: %q", msg)
	}
	if msg := Message(fmt.Errorf("save: %w", pipedrive.ErrDailyBudget)); !strings.Contains(msg, "daily API budget") {
		t.Errorf("daily budget: %q", msg)
	}
}
