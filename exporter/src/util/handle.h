#pragma once
// One RAII idiom for C library objects (librdkafka, OpenSSL): Handle<T, Destroy>
// is a unique_ptr that calls Destroy(p) once for a non-null p. Move-only, like
// the object it owns. kafka/handle.h and http/tls_material.h name their objects.
#include <memory>

namespace dora {

template <auto Destroy>
struct CallDestroy {
  template <typename T>
  void operator()(T* p) const noexcept {
    Destroy(p);
  }
};

template <typename T, auto Destroy>
using Handle = std::unique_ptr<T, CallDestroy<Destroy>>;

}  // namespace dora
