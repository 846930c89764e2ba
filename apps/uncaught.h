// The last line of defence of `bnlab`: an exception that no command turned into a message of
// its own (out of memory, a library's exception bnlab did not expect) becomes one clean line
// and exit code 1, never std::terminate and an abort.
#pragma once

#include <exception>
#include <filesystem>
#include <ios>
#include <new>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>

namespace bnlab::cli {

// What went wrong, in words, for an exception caught by main(): std::bad_alloc is
// "out of memory"; the others say what kind of failure it was and its what().
inline std::string uncaught_message(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::bad_alloc&) {
        return "out of memory (the data, model or batch does not fit; try a smaller --batch or --limit)";
    } catch (const std::filesystem::filesystem_error& e) {
        return std::string("file system error: ") + e.what();
    } catch (const std::ios_base::failure& e) {
        return std::string("input/output error: ") + e.what();
    } catch (const nlohmann::json::exception& e) {
        return std::string("bad JSON: ") + e.what();
    } catch (const std::invalid_argument& e) {
        return std::string("not a number: ") + e.what();
    } catch (const std::out_of_range& e) {
        return std::string("value out of range: ") + e.what();
    } catch (const std::exception& e) {
        return std::string("internal error: ") + e.what();
    } catch (...) {
        return "internal error: an unknown exception";
    }
}

}  // namespace bnlab::cli
