// Calls functions that the embedding app (examples/embed-c) publishes and does not export:
// the controller resolves them in the executor's process. Exit status 42.
int app_add(int a, int b);
int app_count(void);

int main(void) {
  app_count();
  return app_add(app_count(), 40);
}
