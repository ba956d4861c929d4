#include "xlean_interpreter.hpp"

#include <exception>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xeus/xhelper.hpp"

#include "abbreviations.hpp"
#include "display_frames.hpp"
#include "stdio_capture.hpp"
#include "utf8.hpp"
#include "xlean_backend.h"

#ifndef XLEAN_VERSION
#error "XLEAN_VERSION must be defined by the build (the xlean release, e.g. 0.1.0)"
#endif

namespace xlean
{
    namespace
    {
        using reply_ptr = std::unique_ptr<char, decltype(&xlean_backend_free)>;

        nl::json error_object(const std::string& ename, const std::string& evalue)
        {
            return xeus::create_error_reply(ename, valid_utf8(evalue),
                                            nl::json::array({valid_utf8(evalue)}));
        }

        // Takes ownership of a backend reply and parses it. The bytes are repaired to valid UTF-8
        // first (nlohmann::json rejects invalid UTF-8, and a backend bug must not cost a reply).
        // A missing or malformed reply becomes an error object naming the call.
        nl::json parse_reply(char* raw, const char* call)
        {
            reply_ptr owner(raw, &xlean_backend_free);
            if (raw == nullptr)
            {
                return error_object("xlean.BackendError",
                                    std::string("the backend returned no reply to ") + call);
            }
            nl::json reply = nl::json::parse(valid_utf8(raw), nullptr, /*allow_exceptions=*/false);
            if (reply.is_discarded() || !reply.is_object())
            {
                std::string text = valid_utf8(raw);
                if (text.size() > 200)
                {
                    text = valid_utf8(text.substr(0, 200)) + "...";
                }
                return error_object("xlean.BackendError",
                                    std::string("the backend's reply to ") + call
                                        + " is not a JSON object: " + text);
            }
            make_valid_utf8(reply);  // \u escapes can still spell lone surrogates as text
            return reply;
        }

        std::string string_field(const nl::json& j, const char* key, const std::string& fallback = {})
        {
            auto it = j.find(key);
            if (it == j.end() || it->is_null())
            {
                return fallback;
            }
            return it->is_string() ? it->get<std::string>() : it->dump();
        }

        long long int_field(const nl::json& j, const char* key, long long fallback)
        {
            auto it = j.find(key);
            return it != j.end() && it->is_number_integer() ? it->get<long long>() : fallback;
        }

        bool is_json_mime(const std::string& mime)
        {
            return mime == "application/json"
                   || (mime.size() > 5 && mime.compare(mime.size() - 5, 5, "+json") == 0);
        }

        // `line:col: severity: text`, Lean's command-line form without the file name.
        std::string render_message(const nl::json& m)
        {
            return std::to_string(int_field(m, "line", 0)) + ":"
                   + std::to_string(int_field(m, "col", 0)) + ": "
                   + string_field(m, "severity", "info") + ": " + string_field(m, "text");
        }

        // A backend error reply as a Jupyter error reply (ename, evalue, traceback). The Lean
        // side answers {"status": "error", "error": why}; Jupyter wants ename/evalue.
        nl::json as_error_reply(const nl::json& r)
        {
            const std::string evalue = string_field(r, "evalue", string_field(r, "error", r.dump()));
            return error_object(string_field(r, "ename", "xlean.BackendError"), evalue);
        }

        std::string with_newline(std::string s)
        {
            if (s.empty() || s.back() != '\n')
            {
                s.push_back('\n');
            }
            return s;
        }

        // A code-point cursor for `code`; Jupyter sends -1 (xeus's default) when it gives none.
        std::uint32_t cursor_or_end(const std::string& code, int cursor_pos)
        {
            if (cursor_pos < 0)
            {
                return static_cast<std::uint32_t>(code_point_count(code));
            }
            return static_cast<std::uint32_t>(cursor_pos);
        }

        // The reply for abbreviations: `matches` are what any front end inserts (the symbols);
        // the types name the abbreviation, which JupyterLab shows beside each symbol.
        nl::json abbreviation_reply(const abbreviation_completion& c)
        {
            nl::json matches = nl::json::array();
            nl::json types = nl::json::array();
            for (const completion_item& item : c.items)
            {
                matches.push_back(item.text);
                types.push_back(
                    {{"start", c.start}, {"end", c.end}, {"text", item.text}, {"type", item.type}});
            }
            nl::json metadata = {{"_jupyter_types_experimental", std::move(types)}};
            return xeus::create_complete_reply(matches, static_cast<int>(c.start),
                                               static_cast<int>(c.end), metadata);
        }

        const char* what_of(const std::exception_ptr& e)
        {
            try
            {
                std::rethrow_exception(e);
            }
            catch (const std::exception& ex)
            {
                return ex.what();
            }
            catch (...)
            {
                return "unknown exception";
            }
        }
    }

    interpreter::interpreter(std::string backend_options)
        : m_backend_options(std::move(backend_options))
    {
        xeus::register_interpreter(this);
    }

    void interpreter::configure_impl()
    {
        if (m_initialised)
        {
            return;
        }
        m_initialised = true;
        nl::json reply = parse_reply(
            xlean_backend_init(m_backend_options.empty() ? nullptr : m_backend_options.c_str()),
            "init");
        if (string_field(reply, "status") != "ok")
        {
            m_init_error = string_field(reply, "error", string_field(reply, "evalue"));
            if (m_init_error.empty())
            {
                m_init_error = "the backend did not start: " + reply.dump();
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // execute

    void interpreter::publish_text(const std::string& stream, const std::string& text, bool silent)
    {
        if (silent || text.empty())
        {
            return;
        }
        // Frames in text output become display_data; the text around them stays a stream.
        for (auto& piece : split_display_frames(text))
        {
            if (piece.is_frame)
            {
                nl::json data = nl::json::parse(valid_utf8(piece.text), nullptr, false);
                if (!data.is_discarded() && data.is_object())
                {
                    publish_display(std::move(data), silent);
                    continue;
                }
                piece.text = "xlean: invalid display payload: " + piece.text + "\n";
            }
            publish_stream(stream, valid_utf8(piece.text));
        }
    }

    void interpreter::publish_display(nl::json data, bool silent)
    {
        if (silent || !data.is_object())
        {
            return;
        }
        nl::json bundle = nl::json::object();
        std::string invalid;
        for (auto& [mime, content] : data.items())
        {
            if (is_json_mime(mime))
            {
                if (content.is_string())
                {
                    // JSON MIME types carry a JSON value, not a string that holds JSON.
                    nl::json parsed = nl::json::parse(content.get<std::string>(), nullptr, false);
                    if (parsed.is_discarded())
                    {
                        invalid += "xlean: the " + mime + " content of a display is not JSON\n";
                        continue;
                    }
                    bundle[mime] = std::move(parsed);
                }
                else
                {
                    bundle[mime] = std::move(content);
                }
            }
            else
            {
                bundle[mime] = content.is_string() ? std::move(content) : nl::json(content.dump());
            }
        }
        make_valid_utf8(bundle);
        if (!bundle.empty())
        {
            display_data(std::move(bundle), nl::json::object(), nl::json::object());
        }
        if (!invalid.empty())
        {
            publish_stream("stderr", valid_utf8(invalid));
        }
    }

    nl::json interpreter::run_cell(int execution_count, const std::string& code, bool silent)
    {
        if (!m_init_error.empty())
        {
            const std::string evalue = "the Lean backend is not available: " + m_init_error;
            if (!silent)
            {
                publish_execution_error("xlean.InitError", valid_utf8(evalue), {valid_utf8(evalue)});
            }
            return error_object("xlean.InitError", evalue);
        }

        nl::json reply;
        captured_stdio stdio;
        {
            stdio_capture capture;
            reply = parse_reply(
                xlean_backend_execute(code.c_str(), static_cast<std::uint32_t>(execution_count)),
                "execute");
            stdio = capture.take();
        }

        // What the cell wrote to stdout/stderr came first (Lean reports messages after each
        // command has run), then the outputs in the order the backend gives them.
        publish_text("stdout", stdio.out, silent);
        publish_text("stderr", stdio.err, silent);

        std::vector<std::string> errors;  // rendered, for the traceback
        auto outputs = reply.find("outputs");
        if (outputs != reply.end() && outputs->is_array())
        {
            for (auto& out : *outputs)
            {
                if (!out.is_object())
                {
                    continue;
                }
                const std::string kind = string_field(out, "kind");
                if (kind == "message")
                {
                    std::string line = render_message(out);
                    const std::string severity = string_field(out, "severity");
                    if (severity == "error")
                    {
                        // Errors go to the error output at the end (Jupyter shows one per cell);
                        // each keeps its position, so nothing is lost by the move.
                        errors.push_back(std::move(line));
                    }
                    else
                    {
                        // info (e.g. #eval results) on stdout, warnings on stderr.
                        publish_text(severity == "warning" ? "stderr" : "stdout",
                                     with_newline(std::move(line)), silent);
                    }
                }
                else if (kind == "display")
                {
                    auto data = out.find("data");
                    if (data != out.end())
                    {
                        publish_display(std::move(*data), silent);
                    }
                }
                else if (kind == "stream")
                {
                    const std::string name = string_field(out, "name");
                    publish_text(name == "stderr" ? "stderr" : "stdout", string_field(out, "text"),
                                 silent);
                }
            }
        }

        const bool failed = string_field(reply, "status") == "error" || !errors.empty();
        if (!failed)
        {
            return xeus::create_successful_reply();
        }
        std::string ename = string_field(reply, "ename", "Lean error");
        std::string evalue = string_field(reply, "evalue", string_field(reply, "error"));
        if (evalue.empty())
        {
            evalue = errors.empty() ? std::string("the cell failed") : errors.front();
        }
        if (errors.empty())
        {
            auto tb = reply.find("traceback");
            if (tb != reply.end() && tb->is_array())
            {
                for (const auto& t : *tb)
                {
                    errors.push_back(t.is_string() ? t.get<std::string>() : t.dump());
                }
            }
            else
            {
                errors.push_back(evalue);
            }
        }
        for (auto& e : errors)
        {
            e = valid_utf8(e);
        }
        if (!silent)
        {
            publish_execution_error(valid_utf8(ename), valid_utf8(evalue), errors);
        }
        return xeus::create_error_reply(valid_utf8(ename), valid_utf8(evalue), errors);
    }

    void interpreter::execute_request_impl(send_reply_callback cb,
                                           int execution_counter,
                                           const std::string& code,
                                           xeus::execute_request_config config,
                                           nl::json /*user_expressions*/)
    {
        nl::json reply;
        try
        {
            reply = run_cell(execution_counter, code, config.silent);
        }
        catch (...)
        {
            // Whatever went wrong (a publish that could not be serialised, a bad_alloc), the
            // front end gets a reply and the cell does not hang.
            reply = error_object("xlean.InternalError", what_of(std::current_exception()));
        }
        make_valid_utf8(reply);
        cb(std::move(reply));
    }

    // ------------------------------------------------------------------------------------------
    // complete, inspect, is_complete

    nl::json interpreter::complete_request_impl(const std::string& code, int cursor_pos)
    {
        try
        {
            const std::uint32_t cursor = cursor_or_end(code, cursor_pos);
            if (auto abbreviations = complete_abbreviations(code, cursor))
            {
                return abbreviation_reply(*abbreviations);
            }
            nl::json r = parse_reply(xlean_backend_complete(code.c_str(), cursor), "complete");
            if (string_field(r, "status") == "error")
            {
                return as_error_reply(r);
            }
            nl::json matches = nl::json::array();
            if (auto m = r.find("matches"); m != r.end() && m->is_array())
            {
                for (const auto& s : *m)
                {
                    if (s.is_string())
                    {
                        matches.push_back(s);
                    }
                }
            }
            const long long start = int_field(r, "cursor_start", cursor);
            const long long end = int_field(r, "cursor_end", cursor);
            // JupyterLab shows the kind of each match from this (experimental) metadata.
            nl::json types = nl::json::array();
            if (auto items = r.find("items"); items != r.end() && items->is_array())
            {
                for (const auto& item : *items)
                {
                    if (item.is_object())
                    {
                        types.push_back({{"start", start},
                                         {"end", end},
                                         {"text", string_field(item, "text")},
                                         {"type", string_field(item, "kind")}});
                    }
                }
            }
            nl::json metadata = nl::json::object();
            if (!types.empty())
            {
                metadata["_jupyter_types_experimental"] = std::move(types);
            }
            return xeus::create_complete_reply(matches, static_cast<int>(start),
                                               static_cast<int>(end), metadata);
        }
        catch (...)
        {
            return error_object("xlean.InternalError", what_of(std::current_exception()));
        }
    }

    nl::json interpreter::inspect_request_impl(const std::string& code,
                                               int cursor_pos,
                                               int detail_level)
    {
        try
        {
            const std::uint32_t cursor = cursor_or_end(code, cursor_pos);
            nl::json r = parse_reply(
                xlean_backend_inspect(code.c_str(), cursor,
                                      static_cast<std::uint32_t>(detail_level < 0 ? 0 : detail_level)),
                "inspect");
            if (string_field(r, "status") == "error")
            {
                return as_error_reply(r);
            }
            auto found = r.find("found");
            auto data = r.find("data");
            const bool is_found = found != r.end() && found->is_boolean() && found->get<bool>();
            return xeus::create_inspect_reply(
                is_found && data != r.end() && data->is_object() && !data->empty(),
                data != r.end() && data->is_object() ? *data : nl::json::object(),
                nl::json::object());
        }
        catch (...)
        {
            return error_object("xlean.InternalError", what_of(std::current_exception()));
        }
    }

    nl::json interpreter::is_complete_request_impl(const std::string& code)
    {
        try
        {
            nl::json r = parse_reply(xlean_backend_is_complete(code.c_str()), "is_complete");
            std::string status = string_field(r, "status");
            if (status != "complete" && status != "incomplete" && status != "invalid")
            {
                status = "unknown";
            }
            return xeus::create_is_complete_reply(
                status, status == "incomplete" ? string_field(r, "indent") : std::string());
        }
        catch (...)
        {
            return xeus::create_is_complete_reply("unknown", "");
        }
    }

    // ------------------------------------------------------------------------------------------
    // kernel_info, shutdown, interrupt

    nl::json interpreter::kernel_info_request_impl()
    {
        nl::json info = parse_reply(xlean_backend_info(), "info");
        const std::string language_version = string_field(info, "language_version", "unknown");
        std::string banner = string_field(info, "banner");
        if (banner.empty())
        {
            banner = "xlean " XLEAN_VERSION ": Lean " + language_version + " in WebAssembly";
        }
        if (!m_init_error.empty())
        {
            banner += "\nThe Lean backend is not available: " + m_init_error;
        }
        const nl::json help_links = nl::json::array(
            {{{"text", "Lean documentation"}, {"url", "https://lean-lang.org/documentation/"}},
             {{"text", "Theorem Proving in Lean 4"},
              {"url", "https://lean-lang.org/theorem_proving_in_lean4/"}}});
        nl::json reply = xeus::create_info_reply("xlean",
                                                 XLEAN_VERSION,
                                                 "lean4",
                                                 language_version,
                                                 "text/x-lean4",
                                                 ".lean",
                                                 "lean4",  // pygments lexer
                                                 std::string("lean4"),  // codemirror mode
                                                 "",
                                                 banner,
                                                 help_links,
                                                 {});
        make_valid_utf8(reply);
        return reply;
    }

    nl::json interpreter::shutdown_request_impl(bool restart)
    {
        // Nothing to release: the worker that holds the module is terminated by the front end.
        return xeus::create_shutdown_reply(restart);
    }

    nl::json interpreter::interrupt_request_impl()
    {
        // A cell runs synchronously in the worker, so there is never a running cell to stop
        // when this request can be read; the reply says so by changing nothing.
        return xeus::create_interrupt_reply();
    }
}
