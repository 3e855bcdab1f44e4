;;; harness.el --- helpers for the Emacs eglot end-to-end tests (tests/e2e/test_emacs.py)  -*- lexical-binding: t -*-
;; Emacs 28+ with eglot 1.9+, run as: emacs --batch -Q -l harness.el -l scenario.el
;; The server command comes from $GAP_LS_TEST_COMMAND_JSON; results go to $GAP_TEST_OUT as JSON.
(require 'eglot)
(require 'json)
(require 'subr-x)

(setq eglot-sync-connect t
      eglot-connect-timeout 30
      eglot-confirm-server-initiated-edits nil
      eglot-autoshutdown t
      eglot-events-buffer-size 2000000
      make-backup-files nil
      create-lockfiles nil)

(defvar gap-results nil "Alist of what the scenario saw, written as JSON at the end.")
(defvar gap-messages nil)
(defvar gap-ws (getenv "GAP_WS"))
(defvar gap-server-command (append (json-read-from-string (getenv "GAP_LS_TEST_COMMAND_JSON")) nil))

(add-to-list 'eglot-server-programs
             `((mhtml-mode html-mode js-json-mode json-mode js-mode) . ,gap-server-command))

;; Record what the server shows the user.
(cl-defmethod eglot-handle-notification :before (_server (_method (eql window/showMessage)) &key _type message)
  (push message gap-messages))

(defun gap-put (key value) (setf (alist-get key gap-results) value))

(defun gap-open (file)
  "Visit FILE in the workspace, start/attach eglot, return the buffer."
  (let ((buf (find-file-noselect (expand-file-name file gap-ws))))
    (with-current-buffer buf
      (unless (eq major-mode 'mhtml-mode)
        (when (string-match-p "\\.json\\'" file) (js-mode)))
      (eglot-ensure)
      (run-hooks 'post-command-hook)
      (unless (eglot-current-server) (error "eglot did not connect for %s" file)))
    buf))

(defun gap-request (buf method params)
  (with-current-buffer buf (jsonrpc-request (eglot-current-server) method params :timeout 20)))

(defun gap-text (buf) (with-current-buffer buf (buffer-substring-no-properties (point-min) (point-max))))

(defun gap-symbol-tree (symbols)
  (vconcat (mapcar (lambda (s)
                     (let ((kids (plist-get s :children)))
                       (if (and kids (> (length kids) 0))
                           `((name . ,(plist-get s :name)) (children . ,(gap-symbol-tree kids)))
                         `((name . ,(plist-get s :name))))))
                   symbols)))

(defun gap-whole-range (buf)
  (with-current-buffer buf
    (list :start (eglot--pos-to-lsp-position (point-min)) :end (eglot--pos-to-lsp-position (point-max)))))

(defun gap-run-action (buf action)
  "Execute a code ACTION (plist) the way eglot does: apply its edit, then run its command."
  (with-current-buffer buf
    (let ((server (eglot-current-server))
          (edit (plist-get action :edit))
          (command (plist-get action :command)))
      (when (and (not edit) (not command) (plist-get action :data))
        (setq action (jsonrpc-request server :codeAction/resolve action)
              edit (plist-get action :edit) command (plist-get action :command)))
      (when edit (eglot--apply-workspace-edit edit))
      (cond ((stringp command)
             (eglot-execute-command server command (plist-get action :arguments)))
            (command
             (eglot-execute-command server (plist-get command :command) (plist-get command :arguments)))))))

(defun gap-finish (err)
  (when err (gap-put 'error (format "%S" err)))
  (gap-put 'messages (vconcat (reverse gap-messages)))
  (with-temp-file (getenv "GAP_TEST_OUT")
    (insert (json-encode gap-results)))
  (ignore-errors (eglot-shutdown (eglot-current-server)))
  (kill-emacs (if err 2 0)))

(defmacro gap-scenario (&rest body)
  `(condition-case err
       (progn ,@body (gap-finish nil))
     (error (gap-finish err))))
