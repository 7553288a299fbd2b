"""Which tests the fast tier leaves to the full suite: those marked ``slow``.

``python -m pytest -m "not slow"`` runs the rest, and CI runs everything. A test is
listed here when it took over 0.4 s on a loaded 2-core machine (real processes, real
terminals, the corpus, whole-store crash and repair campaigns), measured with
``python -m pytest --durations=0``; every test file keeps its cheap tests in the fast
tier. A new slow test is added here by name, or marked with ``@pytest.mark.slow``.
``tests/test_tiers.py`` checks that every name listed still names a test.
"""

from __future__ import annotations

SLOW: dict[str, frozenset[str]] = {
    "tests/cli/test_asking_close.py": frozenset(
        {
            "test_ordinary_questions_on_medquad_get_their_answer",
            "test_show_expert_shows_the_profile_as_experts_name_does",
        }
    ),
    "tests/cli/test_add_prompts.py": frozenset(
        {
            "test_add_category_option_folds_to_the_stored_spelling",
            "test_add_ctrl_c_exits_130_with_one_clean_line",
            "test_add_prompt_takes_an_answer_of_several_paragraphs",
            "test_add_prompted_category_folds_to_the_stored_spelling",
        }
    ),
    "tests/postgres/test_pg_asking_cli.py": frozenset(
        {
            "test_pg_asking_exit_codes",
            "test_pg_asking_formats",
            "test_pg_one_question_from_post_to_answer_to_search",
            "test_pg_two_answers_at_once_one_is_stored_the_other_kept",
        }
    ),
    "tests/cli/test_asking.py": frozenset(
        {
            "test_hostile_text_in_questions_and_answers_stays_inert",
            "test_two_answers_at_once_one_is_stored_the_other_kept",
        }
    ),
    "tests/cli/test_ask.py": frozenset(
        {
            "test_ask_answers_the_seed_question_with_the_seed",
            "test_ask_json_has_the_answer_and_the_others",
            "test_ask_lists_no_other_answers_that_only_share_a_word",
            "test_ask_nothing_found_exits_1_with_the_reason",
            "test_ask_offers_only_table_and_json",
            "test_ask_takes_the_filters_of_search",
            "test_search_hit_shows_title_its_question_and_a_wrapped_snippet",
        }
    ),
    "tests/cli/test_cli_output.py": frozenset(
        {
            "test_a_run_imports_only_the_module_of_its_command",
            "test_json_output_keeps_non_ascii_readable",
            "test_output_piped_into_head_ends_quietly",
        }
    ),
    "tests/cli/test_cli_truth.py": frozenset(
        {
            "test_experts_limit_is_honoured",
            "test_search_with_an_empty_query_is_a_usage_error",
        }
    ),
    "tests/cli/test_completion.py": frozenset(
        {
            "test_bash_completion_leaves_plain_values_plain",
            "test_bash_completion_quotes_values_with_spaces",
        }
    ),
    "tests/cli/test_editor.py": frozenset(
        {
            "test_add_editor_empty_answer_is_refused",
            "test_add_editor_fills_the_template",
            "test_add_editor_unchanged_template_adds_nothing",
            "test_edit_editor_failure_leaves_the_store",
            "test_edit_into_a_duplicate_is_refused",
            "test_edit_invalid_content_without_tty_aborts",
            "test_edit_missing_editor_is_a_clean_error",
            "test_edit_only_whitespace_changes_nothing",
            "test_edit_replaces_the_answer",
            "test_edit_unchanged_file_changes_nothing",
            "test_edit_unknown_id_exits_1_without_opening_the_editor",
            "test_edit_with_editor_arguments",
        }
    ),
    "tests/cli/test_exit.py": frozenset(
        {
            "test_exit_closes_the_index_and_folds_its_log",
            "test_exit_delivers_every_byte_of_a_long_output",
            "test_exit_keeps_each_command_status",
        }
    ),
    "tests/cli/test_exit_codes.py": frozenset(
        {
            "test_command_asked_for_what_is_not_there",
            "test_list_of_an_empty_store_prints_nothing_or_an_empty_array",
        }
    ),
    "tests/cli/test_formats.py": frozenset(
        {
            "test_every_input_format_reads_its_sample",
            "test_every_offered_format_works",
            "test_json_with_another_format_is_refused",
            "test_list_of_names_honours_or_refuses_every_option",
        }
    ),
    "tests/cli/test_ingest_progress.py": frozenset(
        {
            "test_ingest_progress_bar_in_a_terminal_shows_counts_and_indexing",
            "test_ingest_progress_counts_bytes_of_a_gz_file_on_disk",
        }
    ),
    "tests/cli/test_interactive.py": frozenset(
        {
            "test_add_asks_only_for_missing_fields",
            "test_add_no_input_on_a_tty_names_missing_fields",
            "test_add_prompts_for_what_is_missing",
            "test_add_with_question_and_answer_does_not_prompt",
            "test_add_without_a_tty_is_an_error_naming_fields",
            "test_edit_invalid_text_declined_leaves_the_store",
            "test_edit_invalid_text_offers_to_reopen_the_editor",
            "test_remove_asks_and_removes_on_yes",
            "test_remove_declined_removes_nothing",
            "test_remove_without_a_tty_does_not_wait",
        }
    ),
    "tests/cli/test_pager.py": frozenset(
        {
            "test_pager_keeps_the_users_less_options",
            "test_pager_shows_colours_not_escape_text",
        }
    ),
    "tests/cli/test_pipes.py": frozenset(
        {
            "test_closed_pipe_exits_0_quietly",
        }
    ),
    "tests/cli/test_plain_output.py": frozenset(
        {
            "test_ingest_notes_wrap_at_word_boundaries_on_a_terminal",
            "test_medquad_reingested_is_16375_unchanged_and_48_duplicates",
        }
    ),
    "tests/cli/test_write.py": frozenset(
        {
            "test_every_write_command_prints_only_json",
            "test_readme_write_python_example_runs",
            "test_shell_completion_end_to_end",
        }
    ),
    "tests/doctor/test_doctor.py": frozenset(
        {
            "test_check_names_entries_kept_in_the_wrong_shard_file",
            "test_damaged_store_is_never_overwritten",
            "test_deleted_index_is_rebuilt_by_search",
            "test_doctor_healthy_store",
            "test_doctor_lock_held_says_busy",
            "test_doctor_repair_damaged_catalog_rebuilds_it_from_the_shards",
            "test_doctor_repair_damaged_shard_prefers_larger_recovery",
            "test_doctor_repair_lost_catalog_is_rebuilt_from_the_shards",
            "test_doctor_repair_lost_shard_restores_the_backups_version",
            "test_doctor_repair_nothing_to_recover_leaves_file",
            "test_doctor_repair_rebuilds_corrupt_and_stale_index",
            "test_doctor_repair_restores_backup_when_it_holds_more",
            "test_doctor_repair_unreadable_shard_is_one_line_and_left_alone",
            "test_doctor_reports_bad_entries",
            "test_doctor_table_output_is_plain_text",
            "test_doctor_without_a_store",
            "test_garbage_index_is_rebuilt_by_list",
            "test_index_damaged_inside_is_rebuilt_by_list",
            "test_ingest_leaves_last_good_copy",
            "test_repair_salvage_keeps_journalled_writes",
            "test_salvage_of_a_compressed_shard_loses_only_the_damaged_member",
            "test_salvage_recovers_only_whole_entries_at_every_cut",
            "test_salvage_skips_garbage_in_the_middle",
        }
    ),
    "tests/doctor/test_doctor_losses.py": frozenset(
        {
            "test_doctor_losses_a_changed_file_mode_is_said",
            "test_doctor_losses_nothing_recovered_gives_no_repair_advice",
            "test_doctor_losses_shard_cut_in_half_names_the_lost_ids",
        }
    ),
    "tests/ingest/test_ingest.py": frozenset(
        {
            "test_cli_ingest_exit_codes_and_json_report",
            "test_cli_ingest_forced_format",
            "test_cli_ingest_gz_broken_past_its_first_64_kb_is_one_failure",
            "test_cli_ingest_missing_path",
            "test_cli_ingest_stdin",
            "test_cli_ingest_summary_on_stderr_and_quiet",
            "test_cli_truncated_store_is_refused_and_kept",
            "test_ingest_cp1252_page_records_encoding",
            "test_ingest_large_jsonl_is_streamed_not_capped",
            "test_ingest_oversized_document_is_refused_clearly",
        }
    ),
    "tests/ingest/test_ingest_report.py": frozenset(
        {
            "test_ingest_report_medquad_has_48_duplicates",
        }
    ),
    "tests/ingest/test_interrupt.py": frozenset(
        {
            "test_adds_during_a_long_ingest_succeed_and_both_are_kept",
            "test_ingest_reads_before_it_takes_the_lock",
            "test_interrupt_says_what_was_saved_and_a_rerun_completes",
            "test_interrupts_at_many_moments_never_damage_the_store",
        }
    ),
    "tests/ingest/test_limits.py": frozenset(
        {
            "test_cli_creates_owner_only_store_files",
            "test_default_max_size_refuses_a_huge_page",
            "test_disk_full_keeps_the_old_store",
            "test_file_size_limit_keeps_the_old_store",
            "test_max_size_option_and_environment",
            "test_read_only_folder_keeps_the_old_store",
            "test_reads_work_on_a_full_disk",
            "test_streamed_formats_are_not_capped",
        }
    ),
    "tests/ingest/test_memory.py": frozenset(
        {
            "test_memory_200_mb_record_is_refused_in_one_line",
            "test_memory_dev_zero_is_refused_in_one_line",
            "test_memory_endless_jsonl_on_stdin_streams",
            "test_memory_gzip_bomb_is_refused_in_bounded_memory",
            "test_memory_head_of_endless_jsonl_is_stored",
        }
    ),
    "tests/ingest/test_pipeline.py": frozenset(
        {
            "test_bulk_ingest_feeds_a_second_process",
            "test_index_process_bug_is_raised_not_hidden",
            "test_index_process_commits_waiting_chunks_together_up_to_a_store_version",
            "test_index_process_error_leaves_the_store_whole",
            "test_index_process_killed_mid_ingest",
            "test_index_process_never_claims_a_version_with_entries_past_it",
            "test_index_process_stops_when_the_ingest_dies",
            "test_twins_and_changes_across_chunks_are_found_before_the_index_has_them",
        }
    ),
    "tests/parsers/test_csv.py": frozenset(
        {
            "test_csv_arbitrary_csvish_text_raises_only_parse_error",
            "test_csv_arbitrary_text_raises_only_parse_error",
        }
    ),
    "tests/parsers/test_expert_page.py": frozenset(
        {
            "test_detect_arbitrary_text_is_a_probability",
            "test_expert_page_forced_on_other_formats_refuses_them",
            "test_parse_arbitrary_text_raises_only_parse_error",
        }
    ),
    "tests/parsers/test_fields.py": frozenset(
        {
            "test_ingest_short_cp1252_files_read_as_cp1252",
            "test_ingest_utf16_csv_and_map_through_kb",
        }
    ),
    "tests/parsers/test_html.py": frozenset(
        {
            "test_html_ingest_cli_reads_pages",
        }
    ),
    "tests/parsers/test_ids_by_question.py": frozenset(
        {
            "test_inserting_a_record_adds_one_entry_and_moves_no_id",
        }
    ),
    "tests/parsers/test_json.py": frozenset(
        {
            "test_clean_text_fast_path_gives_the_same_text",
            "test_json_arbitrary_documents_raise_only_parse_error",
            "test_json_arbitrary_text_raises_only_parse_error",
        }
    ),
    "tests/parsers/test_jsonl.py": frozenset(
        {
            "test_jsonl_medquad_corpus_ingests_every_line",
        }
    ),
    "tests/parsers/test_leftovers.py": frozenset(
        {
            "test_leftovers_follow_up_link_resolves_with_kb_show",
        }
    ),
    "tests/parsers/test_linear.py": frozenset(
        {
            "test_html_reads_deep_nesting_with_a_bounded_depth",
            "test_parsers_are_linear_on_hostile_text",
        }
    ),
    "tests/parsers/test_markdown.py": frozenset(
        {
            "test_markdown_front_matter_soup_raises_only_parse_error",
            "test_markdown_round_trip",
        }
    ),
    "tests/parsers/test_qa.py": frozenset(
        {
            "test_qa_marker_soup_raises_only_parse_error",
        }
    ),
    "tests/parsers/test_registry.py": frozenset(
        {
            "test_registry_ingest_help_names_every_format",
        }
    ),
    "tests/parsers/test_stackexchange.py": frozenset(
        {
            "test_stackexchange_dump_folder_reads_posts_with_users",
            "test_stackexchange_generated_dump_pairs_every_answered_question",
            "test_stackexchange_skipped_counts_read_right_in_the_summary",
            "test_stackexchange_truncated_dump_through_the_cli",
        }
    ),
    "tests/postgres/test_pg_backend.py": frozenset(
        {
            "test_postgres_backend_is_a_backend_chosen_by_its_url",
        }
    ),
    "tests/postgres/test_pg_cli.py": frozenset(
        {
            "test_pg_cli_a_login_that_may_only_read",
            "test_pg_cli_browse_in_a_terminal",
            "test_pg_cli_db_option_takes_a_url",
            "test_pg_cli_doctor_finds_and_repairs_orphan_rows",
            "test_pg_cli_edit_of_an_entry_changed_meanwhile_is_refused",
            "test_pg_cli_every_reading_command",
            "test_pg_cli_every_writing_command",
            "test_pg_cli_reading_an_empty_database_refuses_by_name_and_creates_nothing",
        }
    ),
    "tests/postgres/test_pg_ranking_medquad.py": frozenset(
        {
            "test_pg_ranking_medquad_the_condition_entry_first",
        }
    ),
    "tests/postgres/test_pg_replica.py": frozenset(
        {
            "test_postgres_replica_refuses_an_edit_too",
            "test_postgres_replica_through_the_cli_reads_and_refuses_writes_in_one_line",
            "test_postgres_replica_serves_what_the_primary_stored",
        }
    ),
    "tests/postgres/test_pg_roundtrip.py": frozenset(
        {
            "test_postgres_round_trip_of_medquad_is_byte_identical",
            "test_postgres_round_trip_of_the_samples_is_byte_identical",
        }
    ),
    "tests/postgres/test_pg_shared.py": frozenset(
        {
            "test_postgres_read_only_login_cannot_create_the_schema",
            "test_postgres_writer_processes_at_once_count_exactly",
            "test_postgres_writers_at_once_store_each_answer_once",
        }
    ),
    "tests/search/test_index.py": frozenset(
        {
            "test_index_progress_every_thousand",
            "test_query_terms_are_always_quoted",
            "test_search_arbitrary_text_never_raises",
            "test_search_long_pasted_text_uses_its_informative_words",
            "test_two_processes_creating_the_index_at_once_both_open_it",
        }
    ),
    "tests/search/test_ranking_medquad.py": frozenset(
        {
            "test_ranking_medquad_the_condition_entry_first",
        }
    ),
    "tests/store/test_concurrency.py": frozenset(
        {
            "test_api_writers_and_cli_reader_at_once",
            "test_cli_writers_and_reader_at_once",
            "test_lock_held_too_long_says_busy",
            "test_reader_is_served_while_a_writer_holds_the_lock",
        }
    ),
    "tests/store/test_crash.py": frozenset(
        {
            "test_doctor_cleans_up_after_a_killed_ingest",
            "test_ingest_killed_at_many_moments_loses_nothing",
            "test_ingest_killed_just_after_each_commit_loses_nothing",
            "test_repair_killed_after_each_step_loses_nothing",
        }
    ),
    "tests/store/test_journal.py": frozenset(
        {
            "test_journal_cli_add_and_remove_round",
            "test_journal_damaged_whole_line_refuses_and_keeps_files",
            "test_journal_survives_a_copy_of_the_store",
            "test_journal_survives_touch_of_the_catalog",
            "test_journal_that_does_not_belong_is_kept_aside_and_named",
        }
    ),
    "tests/store/test_readonly.py": frozenset(
        {
            "test_read_only_store_is_checked_by_doctor_without_the_lock",
            "test_read_only_store_with_a_current_index_is_read",
            "test_read_only_store_with_a_stale_index_is_read_from_the_store",
            "test_read_only_store_without_its_index_is_read_from_the_store",
        }
    ),
    "tests/store/test_store.py": frozenset(
        {
            "test_store_lock_timeout_says_busy",
            "test_store_missing_shard_file_is_one_line_for_every_command",
            "test_store_symlinked_catalog_is_written_through_the_link",
        }
    ),
    "tests/store/test_upgrade.py": frozenset(
        {
            "test_upgrade_first_write_compresses_and_keeps_everything",
            "test_upgrade_old_store_reads_everything_unchanged",
        }
    ),
    "tests/test_bench_smoke.py": frozenset(
        {
            "test_smoke_corpus_counts_and_uniqueness",
            "test_smoke_qa_file_parses_to_its_record",
        }
    ),
    "tests/test_export.py": frozenset(
        {
            "test_export_csv_defuses_formulas_and_reads_back_the_same",
            "test_export_does_not_write_over_a_file_without_force",
            "test_export_files_get_the_stores_permissions",
            "test_export_never_writes_over_the_stores_own_files",
            "test_export_round_trip_property",
            "test_list_search_and_export_write_the_same_csv",
        }
    ),
    "tests/test_export_folder.py": frozenset(
        {
            "test_export_folder_again_keeps_files_edited_since_and_names_them",
        }
    ),
    "tests/test_fuzz.py": frozenset(
        {
            "test_detect_raises_only_parse_error",
            "test_html_faq_structure_reader_never_raises",
            "test_parser_raises_only_parse_error",
            "test_read_source_never_raises",
        }
    ),
    "tests/test_hostile.py": frozenset(
        {
            "test_hostile_text_is_inert_on_a_terminal",
            "test_hostile_text_is_inert_when_piped",
            "test_hostile_text_is_visible_and_literal",
            "test_json_output_keeps_the_true_text",
            "test_machine_formats_are_inert_on_a_terminal",
            "test_machine_formats_keep_the_true_text_when_piped",
        }
    ),
    "tests/test_imports.py": frozenset(
        {
            "test_no_import_circles_and_no_layering_breaches",
        }
    ),
    "tests/test_readme_examples.py": frozenset(
        {
            "test_python_api_example_runs_from_a_folder_without_a_kb_folder",
            "test_quick_start_keeps_the_samples_out_of_the_users_own_store",
            "test_readme_usage_examples_run_as_shown",
        }
    ),
    "tests/test_roundtrip.py": frozenset(
        {
            "test_roundtrip_medquad_backup_restores_byte_identical",
        }
    ),
    "tests/tui/test_browse.py": frozenset(
        {
            "test_browse_a_query_with_nothing_to_search_for_yet_is_a_note_not_an_error",
            "test_browse_copy_puts_the_answer_on_the_clipboard",
            "test_browse_copy_says_when_the_terminal_cannot",
            "test_browse_ctrl_c_quits_with_the_interrupt_code",
            "test_browse_drops_stale_results",
            "test_browse_empty_query_lists_entries_and_nothing_matched_says_why",
            "test_browse_empty_store_says_how_to_ingest",
            "test_browse_enter_opens_the_first_hit_and_escape_goes_back",
            "test_browse_entry_text_stays_inert",
            "test_browse_escape_on_an_empty_box_and_ctrl_q_quit",
            "test_browse_facets_filter_by_a_category_and_clear",
            "test_browse_first_screen_has_the_first_page_without_a_worker",
            "test_browse_keys_help_and_quit_keys",
            "test_browse_lays_out_below_on_narrow_terminals",
            "test_browse_move_changes_the_preview",
            "test_browse_n_after_find_goes_to_the_next_match",
            "test_browse_open_from_the_list_after_moving",
            "test_browse_preview_shows_the_expert_card",
            "test_browse_query_syntax_is_search_syntax",
            "test_browse_reader_scrolls_and_finds",
            "test_browse_related_lists_and_opens",
            "test_browse_typing_goes_on_while_a_search_is_slow",
            "test_browse_typing_ranks_as_search",
        }
    ),
    "tests/tui/test_browse_terminal.py": frozenset(
        {
            "test_bench_browse_runs_on_a_small_store",
            "test_browse_edit_runs_the_editor_and_shows_the_result",
            "test_browse_in_a_terminal_ctrl_c_quits",
            "test_browse_in_a_terminal_find_read_quit",
            "test_browse_paints_its_first_screen_once_with_the_first_page",
            "test_other_commands_do_not_import_textual",
        }
    ),
}
