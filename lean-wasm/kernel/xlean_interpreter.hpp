// The xlean Jupyter interpreter: xeus 6 requests answered by a backend behind xlean_backend.h.
//
// What each request does is described in docs/kernel-shell.md ("The interpreter"). In short:
// every backend reply is repaired to valid UTF-8 and parsed; every failure (a backend that
// returns nothing or not JSON, an exception anywhere) still produces a reply, because a request
// without a reply leaves the notebook cell busy forever.
#ifndef XLEAN_INTERPRETER_HPP
#define XLEAN_INTERPRETER_HPP

#include <string>

#include "nlohmann/json.hpp"
#include "xeus/xinterpreter.hpp"

namespace nl = nlohmann;

namespace xlean
{
    class interpreter : public xeus::xinterpreter
    {
    public:
        // `backend_options`: a JSON object handed to xlean_backend_init ("" for none).
        explicit interpreter(std::string backend_options = {});
        ~interpreter() override = default;

    private:
        void configure_impl() override;

        void execute_request_impl(send_reply_callback cb,
                                  int execution_counter,
                                  const std::string& code,
                                  xeus::execute_request_config config,
                                  nl::json user_expressions) override;

        nl::json complete_request_impl(const std::string& code, int cursor_pos) override;

        nl::json inspect_request_impl(const std::string& code,
                                      int cursor_pos,
                                      int detail_level) override;

        nl::json is_complete_request_impl(const std::string& code) override;

        nl::json kernel_info_request_impl() override;

        nl::json shutdown_request_impl(bool restart) override;

        nl::json interrupt_request_impl() override;

        nl::json run_cell(int execution_count, const std::string& code, bool silent);
        void publish_text(const std::string& stream, const std::string& text, bool silent);
        void publish_display(nl::json data, bool silent);

        std::string m_backend_options;
        bool m_initialised = false;
        // Why the backend cannot run cells ("" when it can).
        std::string m_init_error;
    };
}

#endif
