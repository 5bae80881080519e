# ONNX Runtime from npm: the runtime library of `onnxruntime-node` (bin/napi-v*/<platform>/<arch>/)
# and the C/C++ API headers of `com.github.asus4.onnxruntime` (headers must be the same version as
# the runtime or older; the runtime's symbols are versioned, so we link the exact file loaded later).
file(GLOB _ort_dirs "${MEMERY_NODE_MODULES}/onnxruntime-node/bin/napi-v*/${MEMERY_PLATFORM}/${MEMERY_ARCH}")
list(SORT _ort_dirs ORDER DESCENDING)
list(GET _ort_dirs 0 ORT_LIB_DIR)
if(APPLE)
  file(GLOB ORT_LIBRARY "${ORT_LIB_DIR}/libonnxruntime.*.dylib")
elseif(WIN32)
  set(ORT_LIBRARY "${ORT_LIB_DIR}/onnxruntime.dll")
  # onnxruntime-node ships no import library; one is generated from the DLL in CI (see .github).
  find_library(ORT_IMPLIB onnxruntime HINTS "${ORT_LIB_DIR}" "${CMAKE_BINARY_DIR}")
else()
  set(ORT_LIBRARY "${ORT_LIB_DIR}/libonnxruntime.so.1")
endif()
file(GLOB_RECURSE _ort_hdr "${MEMERY_NODE_MODULES}/com.github.asus4.onnxruntime/*/onnxruntime_c_api.h")
list(FILTER _ort_hdr INCLUDE REGEX "ios-arm64/onnxruntime.framework/Headers|/include/")
if(NOT _ort_hdr)
  file(GLOB_RECURSE _ort_hdr "${MEMERY_NODE_MODULES}/com.github.asus4.onnxruntime/*/onnxruntime_c_api.h")
endif()
list(GET _ort_hdr 0 _ort_hdr0)
get_filename_component(ORT_INCLUDE_DIR "${_ort_hdr0}" DIRECTORY)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(OnnxRuntimeNpm REQUIRED_VARS ORT_LIBRARY ORT_INCLUDE_DIR)
message(STATUS "memery: ONNX Runtime ${ORT_LIBRARY} headers ${ORT_INCLUDE_DIR}")

add_library(OnnxRuntime::OnnxRuntime SHARED IMPORTED)
set_target_properties(OnnxRuntime::OnnxRuntime PROPERTIES
  IMPORTED_LOCATION "${ORT_LIBRARY}" INTERFACE_INCLUDE_DIRECTORIES "${ORT_INCLUDE_DIR}")
if(WIN32)
  set_target_properties(OnnxRuntime::OnnxRuntime PROPERTIES IMPORTED_IMPLIB "${ORT_IMPLIB}")
endif()
set(MEMERY_RUNTIME_LIBS ${MEMERY_RUNTIME_LIBS} "${ORT_LIBRARY}" CACHE INTERNAL "")
