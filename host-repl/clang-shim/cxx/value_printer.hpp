// The REPL's value printer for class types: target code, parsed into a C++ session with the
// first input that needs it (orcbridge_clang::Interpreter::parse_value_formatter). When an
// input's value is a standard container, string, optional, pair, tuple or smart pointer, the
// REPL attaches to the input a statement
//   __orcbridge_value_format([](const void *p) -> const char * {
//     return __orcbridge::show(*static_cast<const T *>(p), printer, tuple); });
// which runs right after the input's own statements and turns the value they captured (the
// object's address) into its text (the session runtime's __orcbridge_value_format): made in
// the target, next to the object, and sent back as the input's value, in the same run.
//
// Nothing here may need a header: the session may not have included any. So types
// are recognised by what they offer (the same for libstdc++ and libc++), numbers are printed
// with __builtin_snprintf, and the two things that need names from the user's headers come
// from the input: `printer` calls the user's printValue(const T *) where one is viable, and
// `tuple` applies std::apply to tuples (std::tuple_size cannot be named here).
//
// Format: strings quoted with C escapes, sequences `{ 1, 2, 3 }`, maps `{ 1 => 2 }`, optionals
// their value or `std::nullopt`, smart pointers `-> pointee` or `nullptr`, numbers as
// clang-repl prints them, other classes `@0xADDRESS`. At most MaxElems elements a container
// (then `...`), containers nested MaxDepth deep (then `{ ... }`), MaxText bytes in all.
extern "C" void __orcbridge_value_format(const char *(*format)(const void *object));
namespace __orcbridge {
namespace show_detail {
template <class T> T &&declval() noexcept;
template <class...> struct voider { using type = void; };
template <class... T> using void_t = typename voider<T...>::type;
struct no { static constexpr bool value = false; };
struct yes { static constexpr bool value = true; };
template <class T> struct bare { using type = T; };
template <class T> struct bare<const T> { using type = T; };
template <class T> struct bare<volatile T> { using type = T; };
template <class T> struct bare<const volatile T> { using type = T; };
template <class A, class B> struct same : no {};
template <class A> struct same<A, A> : yes {};

template <class T, class = void> struct is_string : no {};
template <class T> struct is_string<T, void_t<typename T::traits_type, typename T::value_type,
    decltype(declval<const T &>().data()), decltype(declval<const T &>().size())>> : yes {};
template <class T, class = void> struct is_optional : no {};
template <class T> struct is_optional<T, void_t<typename T::value_type,
    decltype(declval<const T &>().has_value()), decltype(*declval<const T &>())>> : yes {};
template <class T, class = void> struct is_pointer_like : no {};
template <class T> struct is_pointer_like<T, void_t<typename T::element_type,
    decltype(declval<const T &>().get())>> : yes {};
template <class T, class = void> struct is_map : no {};
template <class T> struct is_map<T, void_t<typename T::key_type, typename T::mapped_type>> : yes {};
template <class T, class = void> struct is_range : no {};
template <class T> struct is_range<T, void_t<decltype(declval<const T &>().begin() !=
    declval<const T &>().end())>> : yes {};
template <class T, class = void> struct is_bools : no {};
template <class T> struct is_bools<T, void_t<typename T::value_type>> {
  static constexpr bool value = same<typename T::value_type, bool>::value;
};
template <class T, class = void> struct is_pair : no {};
template <class T> struct is_pair<T, void_t<decltype(declval<const T &>().first),
    decltype(declval<const T &>().second)>> : yes {};

constexpr int MaxElems = 100, MaxDepth = 6;
constexpr unsigned long MaxText = 16384;
inline char *Text = nullptr;

struct Out {
  unsigned long Len = 0;
  bool Full = false;
  void put(const char *S, unsigned long N) {
    if (Full)
      return;
    if (N > MaxText - 4 - Len) {
      N = MaxText - 4 - Len;
      Full = true;
    }
    __builtin_memcpy(Text + Len, S, N);
    Len += N;
    if (Full) {
      __builtin_memcpy(Text + Len, "...", 3);
      Len += 3;
    }
  }
  void put(const char *S) { put(S, __builtin_strlen(S)); }
  template <class V> void format(const char *F, V Value) {
    char B[128];
    int N = __builtin_snprintf(B, sizeof B, F, Value);
    put(B, N < 0 ? 0 : N < (int)sizeof B ? N : sizeof B - 1);
  }
};

inline void put_char(Out &O, const char *Prefix, unsigned long V, char Quote) {
  O.put(Prefix);
  char C = (char)V;
  if (V == (unsigned long)Quote || V == '\\') {
    O.put("\\", 1);
    O.put(&C, 1);
  } else if (V == '\n') {
    O.put("\\n");
  } else if (V == '\t') {
    O.put("\\t");
  } else if (V >= 0x20 && V < 0x7f) {
    O.put(&C, 1);
  } else {
    O.format("\\x%lx", V);
  }
}

// clang-repl's formats (InterpreterValuePrinter.cpp): Kind 0 float, 1 double, 2 long double.
inline void put_float(Out &O, long double V, int Kind) {
  long double A = V < 0 ? -V : V;
  if (V != V || A > __LDBL_MAX__)
    O.format("%Lg", V);
  else if (A < 9.2e18L && V == (long double)(long long)V)
    O.format("%.1Lf", V);
  else if (A < 1e-4L || A > 1e6L || Kind == 0)
    O.format("%#.6Lg", V);
  else if (Kind == 2)
    O.format("%#.12Lg", V);
  else
    O.format("%#.8Lg", V);
  O.put(Kind == 0 ? "f" : Kind == 2 ? "L" : "");
}

struct no_hook {};

template <class P, class Tu> struct Ctx {
  Out O;
  P &Printer;
  Tu &Tuple;
  int Depth;
};

template <class C, class T, class = void> struct has_printer : no {};
template <class C, class T> struct has_printer<C, T, void_t<decltype(
    declval<decltype(declval<C &>().Printer)>()(declval<const T *>()).c_str())>> : yes {};

template <class C, class T> void one(C &c, const T &x);

template <class C> struct Each {
  C &c;
  int N;
  template <class E> void operator()(const E &e) {
    if (N == MaxElems)
      c.O.put(", ...");
    if (N++ >= MaxElems)
      return;
    c.O.put(N > 1 ? ", " : "");
    one(c, e);
  }
};

template <class C, class T, class = void> struct has_tuple_hook : no {};
template <class C, class T> struct has_tuple_hook<C, T, void_t<decltype(
    declval<decltype(declval<C &>().Tuple)>()(declval<const T &>(), declval<Each<C> &>()))>> : yes {};

template <class C, class T> void elements(C &c, const T &x) {
  if (c.Depth >= MaxDepth) {
    c.O.put("{ ... }");
    return;
  }
  ++c.Depth;
  c.O.put("{ ");
  int N = 0;
  for (auto I = x.begin(), E = x.end(); I != E; ++I) {
    if (N == MaxElems) {
      c.O.put(", ...");
      break;
    }
    c.O.put(N++ ? ", " : "");
    if constexpr (is_map<T>::value) {
      one(c, (*I).first);
      c.O.put(" => ");
      one(c, (*I).second);
    } else if constexpr (is_bools<T>::value) {
      one(c, static_cast<bool>(*I)); // vector<bool>'s elements are proxies
    } else {
      one(c, *I);
    }
  }
  c.O.put(N ? " }" : "}");
  --c.Depth;
}

template <class C, class T> void one(C &c, const T &x) {
  using U = typename bare<T>::type;
  Out &O = c.O;
  if constexpr (has_printer<C, U>::value) {
    O.put(c.Printer(&x).c_str());
  } else if constexpr (same<U, bool>::value) {
    O.put(x ? "true" : "false");
  } else if constexpr (same<U, char>::value || same<U, signed char>::value ||
                       same<U, unsigned char>::value) {
    put_char(O, "'", (unsigned char)x, '\'');
    O.put("'");
  } else if constexpr (same<U, wchar_t>::value || same<U, char16_t>::value ||
                       same<U, char32_t>::value) {
    put_char(O, same<U, wchar_t>::value ? "L'" : same<U, char16_t>::value ? "u'" : "U'",
             (unsigned long)x, '\'');
    O.put("'");
  } else if constexpr (__is_integral(U) && __is_signed(U)) {
    O.format("%lld", (long long)x);
  } else if constexpr (__is_integral(U)) {
    O.format("%llu", (unsigned long long)x);
  } else if constexpr (__is_enum(U)) {
    O.format("%lld", (long long)(__underlying_type(U))x);
  } else if constexpr (__is_floating_point(U)) {
    put_float(O, (long double)x, same<U, float>::value ? 0 : same<U, double>::value ? 1 : 2);
  } else if constexpr (same<U, decltype(nullptr)>::value) {
    O.put("nullptr");
  } else if constexpr (__is_pointer(U)) {
    if (!x) {
      O.put("nullptr");
    } else if constexpr (same<typename bare<decltype(*x)>::type, const char &>::value ||
                         same<typename bare<decltype(*x)>::type, char &>::value) {
      O.put("\"");
      for (const char *S = x; *S && !O.Full; ++S)
        put_char(O, "", (unsigned char)*S, '"');
      O.put("\"");
    } else {
      O.format("%p", (const void *)x);
    }
  } else if constexpr (__is_array(U)) {
    if (c.Depth >= MaxDepth)
      return O.put("{ ... }");
    ++c.Depth;
    O.put("{ ");
    Each<C> Put{c, 0};
    for (const auto &E : x)
      Put(E);
    O.put(" }");
    --c.Depth;
  } else if constexpr (is_string<U>::value) {
    using Ch = typename U::value_type;
    O.put(sizeof(Ch) == 1 ? "\"" : same<Ch, wchar_t>::value ? "L\"" : sizeof(Ch) == 2 ? "u\"" : "U\"");
    const Ch *S = x.data();
    for (unsigned long I = 0, N = x.size(); I < N && !O.Full; ++I)
      put_char(O, "", sizeof(Ch) == 1 ? (unsigned long)(unsigned char)S[I] : (unsigned long)S[I], '"');
    O.put("\"");
  } else if constexpr (is_optional<U>::value) {
    if (x.has_value())
      one(c, *x);
    else
      O.put("std::nullopt");
  } else if constexpr (is_pointer_like<U>::value) {
    if (!x.get())
      O.put("nullptr");
    else if constexpr (same<typename bare<typename U::element_type>::type, void>::value ||
                       __is_function(typename U::element_type))
      O.format("%p", (const void *)x.get());
    else {
      O.put("-> ");
      one(c, *x.get());
    }
  } else if constexpr (is_range<U>::value) {
    elements(c, x);
  } else if constexpr (is_pair<U>::value) {
    O.put("{ ");
    one(c, x.first);
    O.put(", ");
    one(c, x.second);
    O.put(" }");
  } else if constexpr (has_tuple_hook<C, U>::value) {
    O.put("{ ");
    Each<C> Put{c, 0};
    c.Tuple(x, Put);
    O.put(Put.N ? " }" : "}");
  } else {
    O.format("@%p", (const void *)&x);
  }
}
} // namespace show_detail

template <class T, class P = show_detail::no_hook, class Tu = show_detail::no_hook>
const char *show(const T &x, P Printer = P(), Tu Tuple = Tu()) {
  using namespace show_detail;
  if (!Text && !(Text = (char *)__builtin_malloc(MaxText)))
    return "<out of memory>";
  Ctx<P, Tu> c{Out(), Printer, Tuple, 0};
  one(c, x);
  Text[c.O.Len] = 0;
  return Text;
}
} // namespace __orcbridge
