# Turns the project's warnings on for a target (and -Werror with DORA_WERROR).
function(dora_enable_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                           -Wold-style-cast -Wcast-align -Wunused -Woverloaded-virtual
                                           -Wnull-dereference -Wformat=2)
  if(DORA_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Adds ASan/UBSan to a target when DORA_SANITIZE is on.
function(dora_enable_sanitizers target)
  if(DORA_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# Fails the configure step when the .cpp files under `dir` are not exactly the
# union of the given lists (paths relative to `dir`), or a list is not sorted:
# sources are listed by hand, and a new file must not be left out silently.
# The glob is CONFIGURE_DEPENDS, so adding a file re-runs this check at the
# next build.
function(dora_check_sources_listed dir)
  set(all)
  foreach(var ${ARGN})
    set(sorted ${${var}})
    list(SORT sorted)
    if(NOT "${${var}}" STREQUAL "${sorted}")
      string(REPLACE ";" "\n  " sorted "${sorted}")
      message(FATAL_ERROR "${var} in ${CMAKE_CURRENT_LIST_FILE} is not sorted; sorted it reads:\n  ${sorted}")
    endif()
    list(APPEND all ${${var}})
  endforeach()
  file(GLOB_RECURSE found CONFIGURE_DEPENDS RELATIVE ${dir} ${dir}/*.cpp)
  set(missing)
  foreach(f ${found})
    if(NOT f IN_LIST all)
      list(APPEND missing ${f})
    endif()
  endforeach()
  if(missing)
    string(REPLACE ";" "\n  " missing "${missing}")
    message(FATAL_ERROR "sources under ${dir} not listed in ${CMAKE_CURRENT_LIST_FILE}:\n  ${missing}")
  endif()
  foreach(f ${all})
    if(NOT f IN_LIST found)
      message(FATAL_ERROR "${f} is listed in ${CMAKE_CURRENT_LIST_FILE} but is not under ${dir}")
    endif()
  endforeach()
endfunction()
