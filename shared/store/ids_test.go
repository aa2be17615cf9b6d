package store

import "testing"

func TestWellFormedID(t *testing.T) {
	for id, want := range map[string]bool{
		"0123456789abcdef": true, "q0QkZ2a5Zr8n3vX1c9Jm4WfH7dLsT6yBpE2uKoNiA0g": true, "p-12": true, "___": true, "a.b": true,
		"": false, "a//b": false, "a/b": false, "ID/secrets/webhook": false, ".": false, "..": false, "__x__": false, "____": false,
		"\xff": false, string(make([]byte, 1501)): false,
	} {
		if got := wellFormedID(id); got != want {
			t.Errorf("wellFormedID(%.20q) = %v, want %v", id, got, want)
		}
	}
}
