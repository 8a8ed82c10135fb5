// Strong definitions overriding weak defaults from main.c (weak_symbols program).
int hook_value(void) { return 77; }
int tunable = 500;
const char *hook_name(void);

int strong_in_override_user(void) { return hook_value() + tunable + (hook_name()[0] == 'd'); }
