# libvips from npm, the same build sharp uses: headers and C++ binding headers from
# `@img/sharp-libvips-dev`, the shared library (and glibconfig.h) from
# `@img/sharp-libvips-<platform>-<arch>`. Never mix with a system libvips in one process.
set(_vips_dev "${MEMERY_NODE_MODULES}/@img/sharp-libvips-dev")
set(_vips_bin "${MEMERY_NODE_MODULES}/@img/sharp-libvips-${MEMERY_PLATFORM}-${MEMERY_ARCH}/lib")
if(APPLE)
  file(GLOB VIPS_LIBRARY "${_vips_bin}/libvips-cpp.*.dylib")
elseif(WIN32)
  file(GLOB VIPS_LIBRARY "${_vips_bin}/libvips.lib")
else()
  file(GLOB VIPS_LIBRARY "${_vips_bin}/libvips-cpp.so.*")
endif()
if(NOT VIPS_LIBRARY)
  message(FATAL_ERROR "memery: no libvips in ${_vips_bin} (npm install @img/sharp-libvips-${MEMERY_PLATFORM}-${MEMERY_ARCH}; "
    "npm installs only the package of the platform it runs on)")
endif()
list(GET VIPS_LIBRARY 0 VIPS_LIBRARY)
set(VIPS_INCLUDE_DIRS "${_vips_dev}/include" "${_vips_dev}/include/glib-2.0" "${_vips_bin}/glib-2.0/include")

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(LibvipsNpm REQUIRED_VARS VIPS_LIBRARY)
message(STATUS "memery: libvips ${VIPS_LIBRARY}")

add_library(Libvips::Libvips SHARED IMPORTED)
set_target_properties(Libvips::Libvips PROPERTIES
  IMPORTED_LOCATION "${VIPS_LIBRARY}" INTERFACE_INCLUDE_DIRECTORIES "${VIPS_INCLUDE_DIRS}")
if(WIN32)
  set_target_properties(Libvips::Libvips PROPERTIES IMPORTED_IMPLIB "${VIPS_LIBRARY}")
endif()
if(WIN32)
  # The .lib is only the import library: the DLLs beside it are what loads (unverified layout).
  file(GLOB _vips_dlls "${_vips_bin}/*.dll")
  set(MEMERY_RUNTIME_LIBS ${MEMERY_RUNTIME_LIBS} ${_vips_dlls} CACHE INTERNAL "")
else()
  set(MEMERY_RUNTIME_LIBS ${MEMERY_RUNTIME_LIBS} "${VIPS_LIBRARY}" CACHE INTERNAL "")
endif()
