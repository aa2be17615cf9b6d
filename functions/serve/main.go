// Command serve runs the functions locally the way Cloud Functions does:
// functions-framework-go serves the function named by FUNCTION_TARGET at
// "/" on PORT (all of them at /Name when FUNCTION_TARGET is unset).
package main

import (
	"log/slog"
	"os"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	_ "github.com/contactsync/contactsync"
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	host := os.Getenv("HOST") // the local stack binds to 127.0.0.1
	if err := funcframework.StartHostPort(host, port); err != nil {
		slog.Error("serve: stopped", "err", err)
		os.Exit(1)
	}
}
