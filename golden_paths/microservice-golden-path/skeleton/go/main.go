// Command ${{ values.name }} is an HTTP service created from the microservice golden path.
package main

import (
	"encoding/json"
	"log"
	"net/http"
	"os"
)

const serviceName = "${{ values.name }}"

// databaseEnv names the variable holding the connection string ("" without a database).
var databaseEnv = map[string]string{"postgres": "DATABASE_URL", "mongodb": "MONGODB_URI"}["${{ values.database }}"]

func health() map[string]string {
	status := map[string]string{"status": "ok", "service": serviceName}
	if databaseEnv != "" {
		if os.Getenv(databaseEnv) != "" {
			status["database"] = "configured"
		} else {
			status["database"] = "not configured"
		}
	}
	return status
}

func writeJSON(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

// newMux wires the routes; tests use it without opening a port.
func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, health())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "not found"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"service": serviceName, "version": "0.1.0"})
	})
	return mux
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "${{ values.port }}"
	}
	log.Printf("%s listening on :%s", serviceName, port)
	log.Fatal(http.ListenAndServe(":"+port, newMux()))
}
