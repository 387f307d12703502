-- Believable single-tenant VITAL data (about 500 rows). Deterministic: no random values, so
-- row counts are the same on every run.

INSERT INTO suite_functions (name, description) VALUES
    ('Drug Development',    'Discovery through IND-enabling and clinical development'),
    ('Regulatory Affairs',  'Health authority strategy, submissions and labeling'),
    ('Clinical Operations', 'Trial planning, site management and execution'),
    ('Medical Affairs',     'Scientific exchange, medical information and evidence generation'),
    ('Pharmacovigilance',   'Safety surveillance, case processing and signal management'),
    ('Quality Assurance',   'GxP quality systems, audits and CAPA'),
    ('Digital Health',      'Software as a medical device and digital endpoints'),
    ('Commercial',          'Market access, pricing and launch');

INSERT INTO org_departments (name, function_id)
SELECT d.name, f.id
FROM (VALUES ('Discovery Biology', 'Drug Development'), ('Translational Medicine', 'Drug Development'),
             ('Regulatory Strategy', 'Regulatory Affairs'), ('Regulatory Operations', 'Regulatory Affairs'),
             ('Clinical Trial Management', 'Clinical Operations'), ('Site Operations', 'Clinical Operations'),
             ('Medical Information', 'Medical Affairs'), ('Health Economics', 'Medical Affairs'),
             ('Case Processing', 'Pharmacovigilance'), ('Signal Management', 'Pharmacovigilance'),
             ('GxP Compliance', 'Quality Assurance'), ('Computer System Validation', 'Quality Assurance'),
             ('Digital Product', 'Digital Health'), ('Data Science', 'Digital Health'),
             ('Market Access', 'Commercial'), ('Brand Strategy', 'Commercial')) d(name, fn)
JOIN suite_functions f ON f.name = d.fn;

INSERT INTO organizational_levels (name, rank) VALUES
    ('Executive', 1), ('Director', 2), ('Manager', 3), ('Lead', 4), ('Specialist', 5), ('Associate', 6);

INSERT INTO tool_categories (name, description) VALUES
    ('General', 'Everyday utilities'),
    ('Research', 'Scientific literature and patents'),
    ('Regulatory Intelligence', 'Health authority databases and guidance'),
    ('Clinical Trials', 'Trial registries and trial operations'),
    ('Safety & Pharmacovigilance', 'Adverse event data and coding'),
    ('Chemistry', 'Compounds, assays and synthesis'),
    ('Data & Analytics', 'Statistics and data standards'),
    ('Digital Health', 'Connected devices and SaMD'),
    ('Medical Writing', 'Documents and summaries'),
    ('Quality', 'Quality events and audits');

INSERT INTO tools (name, description, category_id, endpoint)
SELECT t.name, t.description, c.id, 'https://tools.vital.example/' || lower(replace(t.name, ' ', '-'))
FROM (VALUES
    ('Calculator', 'Arithmetic and unit-aware calculations', 'General'),
    ('Web Search', 'Searches the public web', 'General'),
    ('Unit Converter', 'Converts doses, concentrations and units', 'General'),
    ('Document Reader', 'Extracts text and tables from PDFs', 'General'),
    ('PubMed', 'Searches MEDLINE abstracts', 'Research'),
    ('Europe PMC', 'Searches full-text life-science literature', 'Research'),
    ('Semantic Scholar', 'Finds papers by meaning and citations', 'Research'),
    ('Patent Search', 'Searches patent publications', 'Research'),
    ('FDA search', 'Searches Drugs@FDA, 510(k) and PMA databases', 'Regulatory Intelligence'),
    ('FDA Guidance Library', 'Finds current FDA guidance documents', 'Regulatory Intelligence'),
    ('EMA EPAR search', 'Searches European public assessment reports', 'Regulatory Intelligence'),
    ('Federal Register watcher', 'Tracks proposed and final rules', 'Regulatory Intelligence'),
    ('eCTD validator', 'Checks submission structure against eCTD rules', 'Regulatory Intelligence'),
    ('Clinical Trials search', 'Searches ClinicalTrials.gov', 'Clinical Trials'),
    ('EU CTR search', 'Searches the EU Clinical Trials Register', 'Clinical Trials'),
    ('Protocol deviation tracker', 'Logs and classifies protocol deviations', 'Clinical Trials'),
    ('Site feasibility scorer', 'Ranks sites by enrollment history', 'Clinical Trials'),
    ('Randomization planner', 'Designs randomization schedules', 'Clinical Trials'),
    ('FAERS search', 'Queries the FDA Adverse Event Reporting System', 'Safety & Pharmacovigilance'),
    ('VigiBase lookup', 'Looks up WHO global ICSR data', 'Safety & Pharmacovigilance'),
    ('MedDRA coder', 'Codes verbatim terms to MedDRA', 'Safety & Pharmacovigilance'),
    ('Signal detector', 'Disproportionality analysis on case data', 'Safety & Pharmacovigilance'),
    ('PubChem', 'Compound properties and bioassays', 'Chemistry'),
    ('ChEMBL', 'Bioactivity data for drug-like molecules', 'Chemistry'),
    ('Molecular descriptors', 'Computes physicochemical descriptors', 'Chemistry'),
    ('Retrosynthesis planner', 'Proposes synthetic routes', 'Chemistry'),
    ('SQL analyst', 'Answers questions over trial datasets', 'Data & Analytics'),
    ('Survival analysis', 'Kaplan-Meier and Cox models', 'Data & Analytics'),
    ('Sample size calculator', 'Power and sample size for common designs', 'Data & Analytics'),
    ('CDISC SDTM mapper', 'Maps raw data to SDTM domains', 'Data & Analytics'),
    ('FHIR API', 'Reads and writes HL7 FHIR resources', 'Digital Health'),
    ('Wearables ingest', 'Imports sensor data from wearables', 'Digital Health'),
    ('SaMD classifier', 'Classifies software under IMDRF SaMD rules', 'Digital Health'),
    ('Usability test planner', 'Plans IEC 62366 usability studies', 'Digital Health'),
    ('CSR drafter', 'Drafts ICH E3 clinical study reports', 'Medical Writing'),
    ('Plain-language summarizer', 'Writes lay summaries of results', 'Medical Writing'),
    ('Reference checker', 'Verifies citations against sources', 'Medical Writing'),
    ('CAPA tracker', 'Tracks corrective and preventive actions', 'Quality'),
    ('Deviation classifier', 'Classifies GMP deviations by risk', 'Quality'),
    ('Audit trail reviewer', 'Reviews 21 CFR Part 11 audit trails', 'Quality')
) t(name, description, category)
JOIN tool_categories c ON c.name = t.category;

-- Six agents per business function; the first of each function leads the others.
INSERT INTO agents (id, name, description, business_function, department_id, model)
SELECT md5(a.name)::uuid, a.name, 'VITAL agent for ' || lower(a.fn), a.fn,
       (SELECT min(d.id) FROM org_departments d JOIN suite_functions f ON f.id = d.function_id WHERE f.name = a.fn),
       CASE WHEN a.n % 3 = 0 THEN 'claude-3-5-sonnet' ELSE 'gpt-4o' END
FROM (VALUES
    ('Drug Development', 1, 'Development Program Lead'), ('Drug Development', 2, 'Target Assessment Scientist'),
    ('Drug Development', 3, 'IND-Enabling Study Planner'), ('Drug Development', 4, 'Medicinal Chemistry Advisor'),
    ('Drug Development', 5, 'Translational Biomarker Analyst'), ('Drug Development', 6, 'Dose Selection Modeler'),
    ('Regulatory Affairs', 1, 'Regulatory Strategy Lead'), ('Regulatory Affairs', 2, 'Submission Planner'),
    ('Regulatory Affairs', 3, 'Labeling Reviewer'), ('Regulatory Affairs', 4, 'Health Authority Query Responder'),
    ('Regulatory Affairs', 5, 'Regulatory Intelligence Analyst'), ('Regulatory Affairs', 6, 'CMC Regulatory Writer'),
    ('Clinical Operations', 1, 'Clinical Operations Lead'), ('Clinical Operations', 2, 'Protocol Designer'),
    ('Clinical Operations', 3, 'Site Selection Advisor'), ('Clinical Operations', 4, 'Enrollment Forecaster'),
    ('Clinical Operations', 5, 'Trial Master File Auditor'), ('Clinical Operations', 6, 'Monitoring Plan Writer'),
    ('Medical Affairs', 1, 'Medical Affairs Lead'), ('Medical Affairs', 2, 'Medical Information Responder'),
    ('Medical Affairs', 3, 'Evidence Gap Analyst'), ('Medical Affairs', 4, 'Publication Planner'),
    ('Medical Affairs', 5, 'Advisory Board Organizer'), ('Medical Affairs', 6, 'HEOR Modeler'),
    ('Pharmacovigilance', 1, 'Safety Physician Lead'), ('Pharmacovigilance', 2, 'Case Intake Triage'),
    ('Pharmacovigilance', 3, 'Signal Evaluator'), ('Pharmacovigilance', 4, 'PSUR Author'),
    ('Pharmacovigilance', 5, 'Risk Management Planner'), ('Pharmacovigilance', 6, 'Literature Screener'),
    ('Quality Assurance', 1, 'Quality Lead'), ('Quality Assurance', 2, 'Audit Preparer'),
    ('Quality Assurance', 3, 'CAPA Investigator'), ('Quality Assurance', 4, 'Validation Engineer'),
    ('Quality Assurance', 5, 'Supplier Qualifier'), ('Quality Assurance', 6, 'SOP Writer'),
    ('Digital Health', 1, 'Digital Product Lead'), ('Digital Health', 2, 'SaMD Regulatory Navigator'),
    ('Digital Health', 3, 'Digital Endpoint Designer'), ('Digital Health', 4, 'Interoperability Engineer'),
    ('Digital Health', 5, 'Cybersecurity Assessor'), ('Digital Health', 6, 'Usability Study Planner'),
    ('Commercial', 1, 'Launch Lead'), ('Commercial', 2, 'Pricing Analyst'),
    ('Commercial', 3, 'Payer Value Storyteller'), ('Commercial', 4, 'Competitive Intelligence Analyst'),
    ('Commercial', 5, 'Field Force Planner'), ('Commercial', 6, 'Market Research Designer')
) a(fn, n, name);
UPDATE agents a SET parent_agent_id = lead.id
FROM agents lead
WHERE lead.business_function = a.business_function AND lead.id <> a.id
  AND lead.name IN ('Development Program Lead', 'Regulatory Strategy Lead', 'Clinical Operations Lead',
                    'Medical Affairs Lead', 'Safety Physician Lead', 'Quality Lead', 'Digital Product Lead',
                    'Launch Lead');

-- Every agent gets the general tools and the tools of its function's categories.
INSERT INTO agent_tools (agent_id, tool_id)
SELECT DISTINCT a.id, t.id
FROM agents a
JOIN (VALUES ('Drug Development', 'Research'), ('Drug Development', 'Chemistry'),
             ('Regulatory Affairs', 'Regulatory Intelligence'), ('Clinical Operations', 'Clinical Trials'),
             ('Clinical Operations', 'Data & Analytics'), ('Medical Affairs', 'Research'),
             ('Medical Affairs', 'Medical Writing'), ('Pharmacovigilance', 'Safety & Pharmacovigilance'),
             ('Quality Assurance', 'Quality'), ('Digital Health', 'Digital Health'),
             ('Commercial', 'Data & Analytics')) m(fn, category) ON m.fn = a.business_function
JOIN tool_categories c ON c.name IN (m.category, 'General')
JOIN tools t ON t.category_id = c.id;

INSERT INTO prompts (agent_id, title, body, category)
SELECT a.id, p.title || ': ' || a.name, p.body, a.business_function
FROM agents a
CROSS JOIN (VALUES ('Kick-off', 'Summarize the goal, the inputs you need and the deliverable.'),
                   ('Review', 'Review the attached draft against current guidance and list gaps.')) p(title, body);

INSERT INTO knowledge (title, source, reference, summary, published) VALUES
    ('Good Clinical Practice', 'ICH', 'E6(R3)', 'Principles for the design, conduct and reporting of trials', '2025-01-06'),
    ('General Considerations for Clinical Studies', 'ICH', 'E8(R1)', 'Quality by design in clinical studies', '2021-10-06'),
    ('Estimands and Sensitivity Analysis', 'ICH', 'E9(R1)', 'Framing the treatment effect of interest', '2019-11-20'),
    ('Clinical Safety Data Management', 'ICH', 'E2A', 'Definitions and standards for expedited reporting', '1994-10-27'),
    ('Individual Case Safety Reports', 'ICH', 'E2B(R3)', 'Electronic transmission of ICSRs', '2016-07-01'),
    ('Pharmacovigilance Planning', 'ICH', 'E2E', 'Safety specification and pharmacovigilance plan', '2004-11-18'),
    ('Pharmaceutical Development', 'ICH', 'Q8(R2)', 'Quality by design for drug products', '2009-08-01'),
    ('Quality Risk Management', 'ICH', 'Q9(R1)', 'Risk-based quality decisions', '2023-01-18'),
    ('Pharmaceutical Quality System', 'ICH', 'Q10', 'Quality system across the product lifecycle', '2008-06-04'),
    ('Stability Testing', 'ICH', 'Q1A(R2)', 'Stability data for registration', '2003-02-06'),
    ('The Common Technical Document', 'ICH', 'M4', 'Organisation of the CTD', '2016-06-15'),
    ('Nonclinical Safety Studies', 'ICH', 'M3(R2)', 'Timing of nonclinical studies for human trials', '2009-06-11'),
    ('Safety Pharmacology Studies', 'ICH', 'S7A', 'Core battery of safety pharmacology', '2000-11-08'),
    ('Medical devices - Quality management systems', 'ISO', 'ISO 13485:2016', 'QMS requirements for regulatory purposes', '2016-03-01'),
    ('Medical devices - Application of risk management', 'ISO', 'ISO 14971:2019', 'Risk management for medical devices', '2019-12-01'),
    ('Biological evaluation of medical devices', 'ISO', 'ISO 10993-1:2018', 'Evaluation and testing within risk management', '2018-08-01'),
    ('Medical device software - Software life cycle processes', 'ISO', 'IEC 62304:2006/A1:2015', 'Software development life cycle', '2015-06-01'),
    ('Usability engineering for medical devices', 'ISO', 'IEC 62366-1:2015', 'Usability engineering process', '2015-02-01'),
    ('Information security management systems', 'ISO', 'ISO/IEC 27001:2022', 'ISMS requirements', '2022-10-01'),
    ('Electronic Records; Electronic Signatures', 'FDA', '21 CFR Part 11', 'Trustworthy electronic records', '1997-03-20'),
    ('Investigational New Drug Application', 'FDA', '21 CFR Part 312', 'IND requirements', '1987-03-19'),
    ('Applications for FDA Approval to Market a New Drug', 'FDA', '21 CFR Part 314', 'NDA requirements', '1985-02-22'),
    ('Investigational Device Exemptions', 'FDA', '21 CFR Part 812', 'IDE requirements', '1980-01-18'),
    ('Quality Management System Regulation', 'FDA', '21 CFR Part 820', 'QMSR aligned with ISO 13485', '2024-02-02'),
    ('Multiple Endpoints in Clinical Trials', 'FDA', 'Guidance for Industry', 'Controlling type I error across endpoints', '2022-10-20'),
    ('Adaptive Designs for Clinical Trials of Drugs and Biologics', 'FDA', 'Guidance for Industry', 'Planning and reporting adaptive trials', '2019-11-29'),
    ('Real-World Evidence', 'FDA', 'Guidance for Industry', 'Using RWD to support regulatory decisions', '2023-08-31'),
    ('Digital Health Technologies for Remote Data Acquisition', 'FDA', 'Guidance for Industry', 'DHTs in clinical investigations', '2023-12-21'),
    ('Clinical Decision Support Software', 'FDA', 'Guidance for Industry', 'Which CDS functions are devices', '2022-09-28'),
    ('Patient-Reported Outcome Measures', 'FDA', 'Guidance for Industry', 'PROs to support labeling claims', '2009-12-01'),
    ('Good Pharmacovigilance Practices Module VI', 'EMA', 'GVP Module VI', 'Collection and submission of ADR reports', '2017-07-28'),
    ('Medical Device Regulation', 'EMA', 'Regulation (EU) 2017/745', 'EU MDR requirements', '2017-05-05');

INSERT INTO personas (name, level_id, department_id, description)
SELECT p.name, l.id, d.id, p.description
FROM (VALUES
    ('Head of Regulatory Affairs', 'Director', 'Regulatory Strategy', 'Owns global regulatory strategy'),
    ('Regulatory Operations Specialist', 'Specialist', 'Regulatory Operations', 'Publishes and tracks submissions'),
    ('Clinical Trial Manager', 'Manager', 'Clinical Trial Management', 'Runs studies end to end'),
    ('Clinical Research Associate', 'Associate', 'Site Operations', 'Monitors sites'),
    ('Medical Science Liaison', 'Specialist', 'Medical Information', 'Scientific exchange with KOLs'),
    ('Drug Safety Physician', 'Lead', 'Signal Management', 'Evaluates safety signals'),
    ('Pharmacovigilance Case Processor', 'Associate', 'Case Processing', 'Processes ICSRs'),
    ('Quality Assurance Auditor', 'Specialist', 'GxP Compliance', 'Audits GxP processes'),
    ('Medicinal Chemist', 'Specialist', 'Discovery Biology', 'Designs and optimizes compounds'),
    ('Chief Medical Officer', 'Executive', 'Translational Medicine', 'Accountable for clinical strategy'),
    ('Digital Health Product Manager', 'Manager', 'Digital Product', 'Builds regulated digital products'),
    ('Market Access Director', 'Director', 'Market Access', 'Secures reimbursement')
) p(name, level, department, description)
JOIN organizational_levels l ON l.name = p.level
JOIN org_departments d ON d.name = p.department;

INSERT INTO jobs_to_be_done (persona_id, statement, priority)
SELECT p.id, j.verb || ' ' || lower(p.name) || ' work ' || j.what, j.priority
FROM personas p
CROSS JOIN (VALUES ('Plan', 'for the next quarter', 2), ('Track', 'against regulatory timelines', 1),
                   ('Report', 'to leadership with evidence', 3)) j(verb, what, priority);

INSERT INTO chat_sessions (id, agent_id, persona_id, title, started_at)
SELECT md5('session ' || n)::uuid, (SELECT id FROM agents ORDER BY name OFFSET n LIMIT 1),
       (SELECT id FROM personas ORDER BY id OFFSET n % 12 LIMIT 1),
       'Platform demo conversation ' || n, timestamptz '2026-01-05 09:00+00' + n * interval '1 day'
FROM generate_series(1, 10) n;

INSERT INTO chat_messages (session_id, role, content, created_at)
SELECT s.id, CASE WHEN m % 2 = 1 THEN 'user' ELSE 'assistant' END,
       CASE WHEN m % 2 = 1 THEN 'Question ' || m || ' about ' || s.title ELSE 'Answer ' || m || ' with sources' END,
       s.started_at + m * interval '1 minute'
FROM chat_sessions s CROSS JOIN generate_series(1, 6) m;
