// Virtual dispatch, multiple and virtual inheritance (this-adjusting thunks), RTTI: dynamic_cast, typeid, bad_cast.
#include <cstdio>
#include <cstring>
#include <memory>
#include <typeinfo>
#include <vector>

struct Named {
  virtual ~Named() = default;
  virtual const char *name() const = 0;
  int tag = 1;
};
struct Drawable {
  virtual ~Drawable() = default;
  virtual int draw() const { return 0; }
  int layer = 5;
};
struct Shape : Named, Drawable {  // multiple inheritance: Drawable subobject at non-zero offset
  double size;
  explicit Shape(double s) : size(s) {}
  virtual double area() const = 0;
};
struct Circle final : Shape {
  using Shape::Shape;
  const char *name() const override { return "circle"; }
  double area() const override { return 3.0 * size * size; }
  int draw() const override { return 100 + layer; }
};
struct Square : Shape {
  using Shape::Shape;
  const char *name() const override { return "square"; }
  double area() const override { return size * size; }
  int draw() const override { return 200 + layer; }
};
struct BigSquare : Square {
  using Square::Square;
  const char *name() const override { return "bigsquare"; }
};

// Diamond with virtual inheritance.
struct Base { int b = 1; virtual ~Base() = default; virtual int id() const { return 1; } };
struct Left : virtual Base { int l = 2; int id() const override { return 2; } };
struct Right : virtual Base { int r = 3; };
struct Bottom : Left, Right { int bot = 4; int id() const override { return 4 + b + l + r; } };

static int draw_via(const Drawable &d) { return d.draw(); }  // call through the secondary base

int main() {
  std::vector<std::unique_ptr<Shape>> shapes;
  shapes.emplace_back(new Circle(2));
  shapes.emplace_back(new Square(3));
  shapes.emplace_back(new BigSquare(4));
  for (auto &s : shapes) {
    Drawable *d = s.get();   // implicit upcast adjusts the pointer
    Named *n = s.get();
    std::printf("%s area=%.1f draw=%d via_base=%d\n", n->name(), s->area(), d->draw(), draw_via(*s));
    std::printf("  is Circle=%d is Square=%d is BigSquare=%d\n", dynamic_cast<Circle *>(s.get()) != nullptr,
                dynamic_cast<Square *>(s.get()) != nullptr, dynamic_cast<BigSquare *>(s.get()) != nullptr);
    // cross-cast from one base to the other
    Named *cross = dynamic_cast<Named *>(d);
    std::printf("  cross-cast ok=%d same name=%d\n", cross != nullptr, cross && std::strcmp(cross->name(), n->name()) == 0);
    const Shape &obj = *s;
    std::printf("  typeid==Square: %d typeid==BigSquare: %d\n", typeid(obj) == typeid(Square),
                typeid(obj) == typeid(BigSquare));
    // dynamic_cast<void*> gives the most-derived object for both bases
    std::printf("  void* agree=%d\n", dynamic_cast<void *>(d) == dynamic_cast<void *>(n));
  }
  try {
    Shape &ref = *shapes[0];
    Square &sq = dynamic_cast<Square &>(ref);
    std::printf("unexpected %s\n", sq.name());
  } catch (const std::bad_cast &) {
    std::printf("bad_cast thrown for Circle -> Square&\n");
  }

  Bottom bottom;
  Base *base = &bottom;
  Left *left = &bottom;
  Right *right = &bottom;
  std::printf("diamond id via Base=%d via Left=%d\n", base->id(), left->id());
  Bottom *back = dynamic_cast<Bottom *>(right);
  std::printf("Right -> Bottom ok=%d bot=%d\n", back == &bottom, back ? back->bot : -1);
  Left *l2 = dynamic_cast<Left *>(right);
  std::printf("Right -> Left cross ok=%d\n", l2 == left);
  std::printf("shared Base: %d\n", static_cast<Base *>(left) == static_cast<Base *>(right));

  const std::type_info &ti = typeid(int);
  std::printf("typeid(int)==typeid(int): %d, before-consistent: %d, name non-empty: %d\n",
              ti == typeid(int), typeid(Circle).before(typeid(Square)) != typeid(Square).before(typeid(Circle)),
              std::strlen(ti.name()) > 0);
  return 23;
}
