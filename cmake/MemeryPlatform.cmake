# Platform names as Node spells them (process.platform / process.arch), used to find the
# per-platform npm packages, plus a helper that copies runtime libraries beside the addon.
if(APPLE)
  set(MEMERY_PLATFORM darwin)
elseif(WIN32)
  set(MEMERY_PLATFORM win32)
else()
  set(MEMERY_PLATFORM linux)
endif()
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64|ARM64)$")
  set(MEMERY_ARCH arm64)
else()
  set(MEMERY_ARCH x64)
endif()
message(STATUS "memery: building for ${MEMERY_PLATFORM}-${MEMERY_ARCH}")

# macOS + Homebrew: FAISS (`brew install faiss libomp`) lives under $(brew --prefix), which is not a
# default CMake prefix on Apple silicon (/opt/homebrew), and libomp is keg-only, so Apple clang's
# OpenMP is found only with OpenMP_ROOT (honoured by find_package(OpenMP), policy CMP0074). Both are
# filled in here unless given on the command line or in the environment.
if(APPLE)
  find_program(MEMERY_BREW brew)
  if(MEMERY_BREW)
    execute_process(COMMAND "${MEMERY_BREW}" --prefix
      OUTPUT_VARIABLE _memery_brew OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
    if(_rc EQUAL 0 AND IS_DIRECTORY "${_memery_brew}")
      list(APPEND CMAKE_PREFIX_PATH "${_memery_brew}")
    endif()
    if(NOT DEFINED OpenMP_ROOT AND NOT DEFINED ENV{OpenMP_ROOT})
      execute_process(COMMAND "${MEMERY_BREW}" --prefix libomp
        OUTPUT_VARIABLE _memery_omp OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE _rc)
      if(_rc EQUAL 0 AND EXISTS "${_memery_omp}/include/omp.h")
        set(OpenMP_ROOT "${_memery_omp}")
        message(STATUS "memery: OpenMP_ROOT=${OpenMP_ROOT} (Homebrew libomp)")
      endif()
    endif()
  endif()
endif()

set(MEMERY_RUNTIME_LIBS "" CACHE INTERNAL "")

# Copy every library in MEMERY_RUNTIME_LIBS next to the .node file and make the addon look for
# them there ($ORIGIN / @loader_path), so it loads from any working directory.
function(memery_bundle_runtime target)
  set_target_properties(${target} PROPERTIES BUILD_WITH_INSTALL_RPATH ON)
  if(APPLE)
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "@loader_path")
  elseif(UNIX)
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN")
  endif()
  foreach(lib ${MEMERY_RUNTIME_LIBS})
    add_custom_command(TARGET ${target} POST_BUILD
      COMMAND ${CMAKE_COMMAND} -E copy_if_different "${lib}" "$<TARGET_FILE_DIR:${target}>")
  endforeach()
endfunction()
